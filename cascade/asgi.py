from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cascade.settings")
django_application = get_asgi_application()

from cascade.lib.limits import BodyLimit  # noqa: E402 (needs the settings loaded above)

# Bodies over their limit are refused before Django spools them (lib/limits.py).
application = BodyLimit(django_application)

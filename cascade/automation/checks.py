"""System checks: settings that name stages must name stages the registry has."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from cascade.automation.stages import registry


@checks.register()
def stage_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    numbers = registry().numbers
    for name in ("CASCADE_AI_LATENCY", "CASCADE_BATCH_SIZES"):
        unknown = sorted(set(getattr(settings, name)) - set(numbers))
        if unknown:
            errors.append(
                checks.Error(
                    f"{name} names stage(s) {unknown}, but stages are {numbers[0]}-{numbers[-1]}.",
                    id="cascade.E001",
                )
            )
    return errors

"""System checks: settings that name stages must name stages the registry has, and the AI
provider must be one that can be loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks

from cascade.ai import provider_problem
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
    problem = provider_problem()
    if problem:
        errors.append(checks.Error(problem, id="cascade.E002"))
    return errors


@checks.register(deploy=True)
def media_for_nginx(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """nginx sends pictures (CASCADE_MEDIA_ACCEL_REDIRECT) only if it can reach them, and the
    data directory is readable by Cascade's user alone."""
    media, data = Path(settings.MEDIA_ROOT), Path(settings.DATA_DIR)
    if settings.CASCADE_MEDIA_ACCEL_REDIRECT and data in media.parents:
        return [
            checks.Warning(
                f"The pictures ({media}) are inside the data directory ({data}), which only "
                "Cascade's user may enter, so nginx cannot send them.",
                hint="Set CASCADE_MEDIA_ROOT to a folder outside the data directory and add "
                "nginx's user to Cascade's group (pictures are then 0640 in 0750 folders).",
                id="cascade.W001",
            )
        ]
    return []

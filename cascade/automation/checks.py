"""System checks: settings that name stages must name stages the registry has, the AI
provider must be one that can be loaded, and the offline provider's keyword model must be the
one Cascade was built with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks

from cascade.ai import meaning, provider_problem
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
    if settings.CASCADE_AI_PROVIDER == "local" and settings.CASCADE_MEANING_MAX_KEYWORDS:
        problem = meaning.problem()
        if problem:
            errors.append(
                checks.Warning(
                    problem,
                    hint="Until then, stage 1 pauses runs of sites it would cluster by meaning; "
                    "CASCADE_MEANING_MAX_KEYWORDS=0 clusters every site by words instead.",
                    id="cascade.W002",
                )
            )
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

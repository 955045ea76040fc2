"""A site's automation configuration as a plain dict; runs freeze a copy when they start."""

from __future__ import annotations

from typing import Any

from cascade.accounts.models import Site
from cascade.automation.models import AutomationConfig
from cascade.automation.stages import registry
from cascade.automation.steps.planning import clustering_method


def defaults() -> dict[str, Any]:
    return {
        "stages_enabled": [True] * len(registry()),
        "batch_sizes": {},
        "ideas_per_cluster": 3,
        "images_per_content": 2,
        "target_words": 1200,
        "max_items_per_stage": None,
        "max_credits_per_run": None,
    }


def as_dict(config: AutomationConfig | None) -> dict[str, Any]:
    result = defaults()
    if config is None:
        return result
    count = len(registry())
    enabled = list(config.stages_enabled or [])
    result.update(
        stages_enabled=(enabled + [True] * count)[:count],
        batch_sizes={str(k): int(v) for k, v in (config.batch_sizes or {}).items()},
        ideas_per_cluster=config.ideas_per_cluster,
        images_per_content=config.images_per_content,
        target_words=config.target_words,
        max_items_per_stage=config.max_items_per_stage,
        max_credits_per_run=config.max_credits_per_run,
    )
    return result


def load(site: Site | int) -> dict[str, Any]:
    site_id = site if isinstance(site, int) else site.pk
    return as_dict(AutomationConfig.objects.filter(site_id=site_id).first())


def for_run(site: Site) -> dict[str, Any]:
    """What a run freezes when it starts: the site's configuration, and how stage 1 groups
    keywords offline (by meaning up to CASCADE_MEANING_MAX_KEYWORDS keywords in the site, by
    words above), decided once so that a site growing during the run does not switch."""
    return {**load(site), "clustering": clustering_method(site.pk)}


def save(site: Site, values: dict[str, Any]) -> dict[str, Any]:
    config, _ = AutomationConfig.objects.get_or_create(
        site=site, defaults={"stages_enabled": defaults()["stages_enabled"]}
    )
    for field, value in values.items():
        if field == "batch_sizes":
            value = {str(k): int(v) for k, v in value.items()}
        setattr(config, field, value)
    config.save()
    return as_dict(config)

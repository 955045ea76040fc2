"""The work of each stage: what one item's processing asks of the AI provider (`process`, no
database writes) and what it writes in the item's transaction (`apply`). The registry in
`automation.stages` says which of these functions each stage uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cascade.ai.base import SiteProfile


class StageError(Exception):
    """An item cannot be processed for a reason that retrying will not change."""


class StaleItem(StageError):
    """The item's source rows are no longer in their queue status (someone else changed them)."""


@dataclass
class StageContext:
    site_id: int
    config: dict[str, Any]
    provider: Any
    profile: SiteProfile = SiteProfile()
    run_id: Any = None


@dataclass
class Applied:
    outputs: int  # rows this stage created
    # Values that replace the configuration's when the work is priced: stage 4 is paid by the
    # words it wrote, not by its target.
    priced_as: dict[str, Any] = field(default_factory=dict)


def expect(updated: int, wanted: int, what: str) -> None:
    # Source rows are changed with conditional updates; a mismatch means someone else changed
    # them, and the whole item transaction is rolled back rather than writing twice.
    if updated != wanted:
        raise StaleItem(f"{what}: expected {wanted} rows in their queue status, found {updated}")

"""Refusals the API maps to status codes, and the engine's own signal of a lost claim."""

from __future__ import annotations

from typing import Any


class EngineRefusal(Exception):
    status = 409

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class RunAlreadyActive(EngineRefusal):
    status = 409


class NothingToProcess(EngineRefusal):
    status = 422


class InsufficientCredits(EngineRefusal):
    status = 402


class InvalidTransition(EngineRefusal):
    status = 409


class LostClaim(Exception):
    """The item's claim expired and was taken back; this worker's result is discarded."""

"""The run engine: start, claim, process, commit, and the state changes around them.

Every function is safe to call from any number of threads or processes at once; the engine does
not know whether it runs in the embedded pool or on a Celery worker. Who may do what is decided
by conditional updates and row locks, never by in-memory state. One module per concern:

- `lifecycle`: Run Now, pause, resume, cancel, retry failed
- `advancing`: beginning a run and moving it from stage to stage
- `claims`: claiming items, keeping claims fresh, taking back those of dead workers
- `processing`: the AI work and the one transaction that commits an item
- `failures`: retries with backoff, failing items, pausing for an unavailable provider
- `billing`: holding and charging credits, resuming runs after a top-up
- `loop`: the worker's unit of work
"""

from cascade.automation.engine.advancing import advance_if_stage_done, begin_run
from cascade.automation.engine.billing import reserve, resume_runs_waiting_for_credits
from cascade.automation.engine.claims import (
    Claim,
    claim_items,
    claimable_batches,
    process_name,
    reclaim_expired,
    release,
    release_orphans,
    worker_name,
)
from cascade.automation.engine.errors import (
    EngineRefusal,
    InsufficientCredits,
    InvalidTransition,
    LostClaim,
    NothingToProcess,
    RunAlreadyActive,
)
from cascade.automation.engine.lifecycle import (
    cancel_run,
    pause_run,
    resume_run,
    retry_failed,
    start_run,
)
from cascade.automation.engine.loop import run_until_idle, work_once
from cascade.automation.engine.processing import process_claim

__all__ = [
    "Claim",
    "EngineRefusal",
    "InsufficientCredits",
    "InvalidTransition",
    "LostClaim",
    "NothingToProcess",
    "RunAlreadyActive",
    "advance_if_stage_done",
    "begin_run",
    "cancel_run",
    "claim_items",
    "claimable_batches",
    "pause_run",
    "process_claim",
    "reclaim_expired",
    "release",
    "process_name",
    "release_orphans",
    "reserve",
    "resume_run",
    "resume_runs_waiting_for_credits",
    "retry_failed",
    "run_until_idle",
    "start_run",
    "work_once",
    "worker_name",
]

"""Folder runner: every session of a folder rendered, every failure explained, nothing corrupted.

Public API::

    from batch import run_batch, discover_sessions
    result = run_batch("sessions/", "renders/", style="rock_punk", jobs=4)
    result.exit_code, result.counts, result.sessions

Modules: :mod:`batch.discovery` (which folders are sessions), :mod:`batch.fingerprint`
(resume keys), :mod:`batch.ledger` (append-only run log), :mod:`batch.worker` (one
session on a worker), :mod:`batch.executors` (joblib/loky locally, dask.distributed
on clusters), :mod:`batch.runner` (the run), :mod:`batch.progress` (console output),
:mod:`batch.testing` (stand-in process functions for tests and benchmarks).
"""
from __future__ import annotations

__all__ = ["run_batch", "BatchResult", "SessionOutcome", "discover_sessions", "Session", "Discovery",
           "BatchUsageError", "InfrastructureError"]

_EXPORTS = {
    "run_batch": "batch.runner", "BatchResult": "batch.runner", "SessionOutcome": "batch.runner",
    "discover_sessions": "batch.discovery", "Session": "batch.discovery", "Discovery": "batch.discovery",
    "BatchUsageError": "batch.errors", "InfrastructureError": "batch.errors",
}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'batch' has no attribute {name!r}")

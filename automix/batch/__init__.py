"""Folder runner: every session of a folder rendered, every failure explained, nothing corrupted.

Public API::

    from automix.batch import run_batch, discover_sessions
    result = run_batch("sessions/", "renders/", style="rock_punk", jobs=4)
    result.exit_code, result.counts, result.sessions

Modules: :mod:`automix.discovery` (which folders are sessions), :mod:`automix.batch.fingerprint`
(resume keys), :mod:`automix.batch.ledger` (append-only run log), :mod:`automix.batch.worker` (one
session on a worker), :mod:`automix.batch.executors` (joblib/loky locally, dask.distributed
on clusters), :mod:`automix.batch.runner` (the run), :mod:`automix.batch.progress` (console output),
:mod:`automix.batch.testing` (stand-in process functions for tests and benchmarks).
"""
from __future__ import annotations

__all__ = ["run_batch", "BatchResult", "SessionOutcome", "discover_sessions", "Session", "Discovery",
           "UsageError", "InfrastructureError"]

_EXPORTS = {
    "run_batch": "automix.batch.runner", "BatchResult": "automix.batch.runner", "SessionOutcome": "automix.batch.runner",
    "discover_sessions": "automix.discovery", "Session": "automix.discovery", "Discovery": "automix.discovery",
    "UsageError": "automix.errors", "InfrastructureError": "automix.errors",
}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'automix.batch' has no attribute {name!r}")

"""Errors of the batch runner, mapped by the CLI to exit codes 2 (usage) and 3 (infrastructure)."""
from __future__ import annotations

from automix.errors import AutomixError


class BatchUsageError(AutomixError):
    """The command line or the folders are unusable as given (exit 2, before any work)."""

    code = "E_USAGE"


class InfrastructureError(AutomixError):
    """The machinery cannot run: scheduler unreachable, output not writable,
    workers that cannot see the paths, another runner holding the output folder (exit 3)."""

    code = "E_INFRA"

"""One exception hierarchy for everything a user can get wrong, the registry of its codes, and the exit codes.

Every error a user can cause derives from :class:`AutomixError`. The CLI prints
``str(error)`` as one line and exits with the error's ``exit_code``; it never
shows a traceback for these. Every error carries a stable ``code`` from
:data:`ERROR_CODES` that reports, batch summaries and ledgers record.
"""
from __future__ import annotations

import signal

#: exit codes of every command (the CLI and the batch runner)
EXIT_OK = 0
EXIT_FAILED = 1  # a target or a file failed; the report or the table says which
EXIT_USAGE = 2  # usage, settings, style or input error, before any work
EXIT_INTERNAL = 3  # a bug, or infrastructure that cannot run (scheduler, unwritable output)
#: interrupted by a signal: 128 + its number, as a shell reports it (rerun to resume a batch)
EXIT_SIGNAL = {signal.SIGINT: 128 + signal.SIGINT, signal.SIGTERM: 128 + signal.SIGTERM}

#: every stable error code and what it means: the one list the README's table and the tests check
ERROR_CODES = {
    "E_MISSING": "a stem or file does not exist",
    "E_UNREADABLE": "a file is not audio libsndfile can read",
    "E_EMPTY": "a file has 0 bytes or 0 frames, or nothing was given to work on",
    "E_TRUNCATED": "the header declares more data than the file holds, or the decode fails midway",
    "E_NONFINITE": "the audio holds NaN or infinite samples",
    "E_CHANNELS": "a stem has more than 2 channels",
    "E_TOO_SHORT": "a stem is shorter than one 0.4 s loudness block",
    "E_SILENT": "every stem is silent, or the stems cancel each other",
    "E_ROLE": "a role given for a stem is not one automix knows",
    "E_SESSION": "a session cannot be used as given",
    "E_CONFIG": "a session's automix.yaml is malformed",
    "E_NAME": "two sessions would write to the same output folder",
    "E_SETTINGS": "a settings file is malformed",
    "E_PARAM": "a plugin parameter is unknown, missing, non-numeric or out of range",
    "E_STYLE": "a style or targets file is malformed, or names an unknown style",
    "E_OUTPUT": "an output cannot be written (format, folder, or it would overwrite an input)",
    "E_EXISTS": "an export's output exists already (pass --force to replace it)",
    "E_STEM_CHANGED": "a stem differs from the file the settings were mixed from (size or content hash)",
    "E_WEIGHTS": "a weights file is missing, corrupt, or made for another parameter layout",
    "E_TRAIN": "training cannot start or resume as asked",
    "E_USAGE": "the command line or the folders are unusable as given",
    "E_INFRA": "the machinery cannot run (scheduler, workers, output folder held by another run)",
    "E_TIMEOUT": "a batch session ran past --timeout and was stopped",
    "E_MEMORY": "a batch session ran out of memory",
    "E_WORKER_CRASH": "a batch worker process died under a session",
    "E_TARGET_MISSED": "a hard target (loudness, true peak) was missed",
    "E_INTERNAL": "a bug: please report it",
}


class AutomixError(Exception):
    """Root of all user-facing errors. ``code`` (a key of :data:`ERROR_CODES`) is stable across releases."""

    code = "E_INTERNAL"
    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code is not None:
            if code not in ERROR_CODES:  # a typo here would silently become a new code in every report
                raise ValueError(f"unregistered error code {code!r}")
            self.code = code


class ParameterError(AutomixError):
    """A plugin parameter is unknown, missing, non-numeric or out of range."""

    code = "E_PARAM"


class SettingsError(AutomixError):
    """A settings file is malformed (bad JSON, wrong schema, unknown plugin/key)."""

    code = "E_SETTINGS"


class StyleError(AutomixError):
    """A style/targets file is malformed or names an unknown style."""

    code = "E_STYLE"


class SessionError(AutomixError):
    """A stem or session cannot be used as given (``E_MISSING``, ``E_UNREADABLE``, ``E_SILENT``...)."""

    code = "E_SESSION"


def check_exists(path) -> None:
    """Raise ``E_MISSING`` for a stem or session path that does not exist (stdlib only: the CLI answers a
    mistyped path before loading numpy or the styles)."""
    import os

    if not os.path.exists(str(path)):
        raise SessionError(f"{path}: file not found; check the path", code="E_MISSING")


class OutputError(AutomixError):
    """An output cannot be written (unsupported format, unwritable folder, would overwrite an input)."""

    code = "E_OUTPUT"


class WeightsError(AutomixError):
    """A weights file is missing, corrupt, or made for another parameter layout."""

    code = "E_WEIGHTS"


class TrainingError(AutomixError):
    """Training cannot start or resume as asked."""

    code = "E_TRAIN"


class UsageError(AutomixError):
    """The command line or the folders are unusable as given (exit 2, before any work)."""

    code = "E_USAGE"


class InfrastructureError(AutomixError):
    """The machinery cannot run: scheduler unreachable, output not writable,
    workers that cannot see the paths, another runner holding the output folder (exit 3)."""

    code = "E_INFRA"
    exit_code = EXIT_INTERNAL

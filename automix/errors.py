"""One exception hierarchy for everything a user can get wrong.

Every error a user can cause derives from :class:`AutomixError`. The CLI prints
``str(error)`` as one line and exits non-zero; it never shows a traceback for
these. Session errors carry a stable ``code`` that reports and ledgers record.
"""
from __future__ import annotations


class AutomixError(Exception):
    """Root of all user-facing errors. ``code`` is stable across releases."""

    code = "E_INTERNAL"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        if code is not None:
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
    """A stem or session cannot be used as given.

    Codes: ``E_MISSING``, ``E_UNREADABLE``, ``E_TRUNCATED``, ``E_NONFINITE``,
    ``E_SILENT``, ``E_SR_MISMATCH``, ``E_CHANNELS``, ``E_TOO_SHORT``, ``E_EMPTY``.
    """

    code = "E_SESSION"


class OutputError(AutomixError):
    """An output cannot be written (unwritable folder, would overwrite an input)."""

    code = "E_OUTPUT"

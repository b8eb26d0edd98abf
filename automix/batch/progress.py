"""What a person watching a batch sees: a progress bar on a terminal, plain lines otherwise, a table at the end."""
from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ConsoleReporter", "summary_table"]

_MARK = {"ok": "ok", "skipped": "skipped", "missed": "MISSED", "failed": "FAILED", "crashed": "CRASHED",
         "interrupted": "interrupted", "pending": "pending"}


def _printable(text: str) -> str:
    """File names may hold undecodable bytes (surrogate escapes): show them escaped instead of failing."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _short(text: str, width: int) -> str:
    text = _printable(text)
    return text if len(text) <= width else text[: width - 1] + "…"


class ConsoleReporter:
    """Progress on ``stream`` (stderr by default): a bar with an ETA if it is a terminal, one line per session
    otherwise (a nightly job's log). ``quiet``: only problems (failures, crashes, warnings, notes)."""

    def __init__(self, stream: TextIO | None = None, bar: bool | None = None, width: int = 30, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.bar = (self.stream.isatty() if bar is None else bar) and not quiet
        self.width = width
        self.total = 0
        self.counts: dict[str, int] = {}
        self.t0 = time.monotonic()
        self._bar_shown = False

    def _write(self, line: str) -> None:
        line = _printable(line)
        if self._bar_shown:
            self.stream.write("\r\033[K")
            self._bar_shown = False
        self.stream.write(line + "\n")
        self.stream.flush()

    def _draw(self, done: int) -> None:
        filled = int(self.width * done / max(self.total, 1))
        counts = " ".join(f"{k} {v}" for k, v in self.counts.items() if v)
        elapsed = time.monotonic() - self.t0
        # from the rendered sessions' pace: skipped ones cost nothing and would make the estimate far too short
        worked = done - self.counts.get("skipped", 0)
        eta = f", about {_duration(elapsed / worked * (self.total - done))} left" if 0 < worked and done < self.total else ""
        self.stream.write(f"\r\033[K[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} "
                          f"{counts} {elapsed:.0f}s{eta}")
        self.stream.flush()
        self._bar_shown = True

    def started(self, total: int, notes: list[str]) -> None:
        self.total = total
        for n in notes:
            self._write(f"note: {n}")
        if not self.quiet:
            self._write(f"{total} session{'s' if total != 1 else ''} found")

    def note(self, text: str) -> None:
        self._write(f"note: {text}")

    def preflight(self, problems: list[str]) -> None:
        self._write(f"up-front check: {len(problems)} unusable stem(s) or session setting(s):")
        for p in problems:
            self._write(f"  {p}")

    def session_done(self, outcome, done: int, total: int) -> None:
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        for w in outcome.warning_lines:
            self._write(f"{outcome.session}: warning: {w}")
        if self.quiet:
            if outcome.status not in ("ok", "skipped"):
                self._write(f"{outcome.session}: {_MARK[outcome.status]} {outcome.code or ''} {outcome.reason or ''}")
            return
        if self.bar:
            if outcome.status not in ("ok", "skipped"):
                self._write(f"{outcome.session}: {_MARK[outcome.status]} {outcome.code or ''} {outcome.reason or ''}")
            self._draw(done)
        else:
            secs = f" {outcome.seconds:.1f}s" if outcome.seconds is not None else ""
            note = _soft_note(outcome)
            why = f" {outcome.code}: {outcome.reason}" if outcome.code else (f"; {note}" if note else "")
            self._write(f"[{done}/{total}] {outcome.session}: {_MARK[outcome.status]}{secs}{why}")

    def finished(self, result) -> None:
        if self._bar_shown:
            self.stream.write("\n")
            self.stream.flush()
            self._bar_shown = False


def _duration(seconds: float) -> str:
    """``'42 s'``, ``'7 min'``, ``'2 h 05 min'``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _soft_note(outcome) -> str:
    """'soft miss: balance (report.json says why)' for a rendered session that missed soft targets, else ''."""
    if not outcome.soft_missed:
        return ""
    from automix.report import SOFT_TARGETS

    return "soft miss: " + ", ".join(SOFT_TARGETS.get(k, k) for k in outcome.soft_missed) + " (report.json says why)"


def summary_table(result) -> str:
    """Plain-text table of every session, then the counts, exit code and where the ledger is.

    A rendered session's missed soft targets show in the reason column ("soft miss: balance"); each one's
    report.json says why (out of the master EQ's reach, a compromise, ...).
    """
    rows = [(o.session, _MARK.get(o.status, o.status), o.code or "",
             "" if o.seconds is None else f"{o.seconds:.1f}", o.reason or _soft_note(o)) for o in result.sessions]
    name_w = min(max([len("session")] + [len(r[0]) for r in rows]), 40)
    code_w = max([len("code")] + [len(r[2]) for r in rows])
    lines = [f"{'session':<{name_w}}  {'status':<11}  {'code':<{code_w}}  {'seconds':>7}  reason"]
    for name, status, code, secs, why in rows:
        lines.append(f"{_short(name, name_w):<{name_w}}  {status:<11}  {code:<{code_w}}  {secs:>7}  "
                     f"{_short(why, 100)}")
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if v) or "no sessions"
    soft = sum(1 for o in result.sessions if o.soft_missed)
    if soft:
        counts += f" ({soft} with a soft target missed)"
    lines.append(f"{len(result.sessions)} session(s): {counts}; exit {result.exit_code}; "
                 f"{result.seconds:.1f} s; ledger {result.ledger_path}")
    return "\n".join(lines)

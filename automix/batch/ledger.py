"""The run ledger (``OUT_DIR/ledger.jsonl``) and small JSON helpers.

The ledger is append-only: one JSON object per line, each written with a
single ``write`` on an ``O_APPEND`` descriptor and fsync-ed, so a runner
killed at any instant leaves at most one incomplete last line, which
:func:`read_ledger` skips (and the next run starts on a fresh line). Every
line holds ``v`` (format version), ``time`` (UTC ISO 8601), ``run`` (run
id) and ``event``, one of:

``start``
    ``in_dir, out_dir, style, backend, scheduler, jobs, sessions, force, pid,
    engine_version, removed_partials``
``skipped``
    ``session, reason, fingerprint`` (resumed: up to date)
``result``
    ``session, status, code, reason, seconds, attempts, fingerprint``, and for
    a session a worker finished ``process_seconds, setup_seconds, pid, host,
    peak_rss_mb, exports`` (``status``: ok, missed, failed, crashed; ``exports``: files written per export
    kind)
``crash``
    ``session, detail, alone, attempt`` (a worker died while the session ran)
``interrupted``
    ``signal, unfinished`` (sessions stopped or never started)
``end``
    ``counts, exit_code, seconds`` (``error`` when an infrastructure error
    ended the run, exit code 3)
"""
from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from automix.audio_io import write_text_atomic

__all__ = ["Ledger", "read_ledger", "json_safe", "dumps", "write_json_atomic", "utc_now"]

LEDGER_VERSION = 1


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_safe(obj: Any) -> Any:
    """Copy with non-finite floats as ``None``, tuples as lists, unknown objects as strings."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    try:  # numpy scalars
        return json_safe(obj.item())
    except Exception:
        return str(obj)


def dumps(obj: Any, indent: int | None = None) -> str:
    """Strict JSON (``allow_nan=False``), ASCII-escaped so any file name survives."""
    return json.dumps(json_safe(obj), indent=indent, ensure_ascii=True, allow_nan=False)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, dumps(obj, indent=2) + "\n")


class Ledger:
    """Append-only JSONL event log, safe against a kill at any instant."""

    def __init__(self, path: str | os.PathLike, run_id: str):
        self.path = Path(path)
        self.run_id = run_id
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        if size:
            with open(self.path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":  # a line cut by a kill: terminate it, never glue onto it
                    os.write(self._fd, b"\n")

    def append(self, event: str, **fields: Any) -> dict:
        record = {"v": LEDGER_VERSION, "time": utc_now(), "run": self.run_id, "event": event, **fields}
        data = (dumps(record) + "\n").encode("ascii")
        os.write(self._fd, data)
        os.fsync(self._fd)
        return record

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_ledger(path: str | os.PathLike) -> Iterator[dict]:
    """Events of a ledger, skipping lines that are incomplete (a kill mid-write) or not JSON."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    continue
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
    except FileNotFoundError:
        return

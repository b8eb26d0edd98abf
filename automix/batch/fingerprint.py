"""What a session's output depends on, hashed: the resume key.

A session is skipped on a rerun only if its report says ``ok``, its outputs
exist with the sizes the report recorded, and this fingerprint is unchanged.
The fingerprint covers the engine version (``automix.__version__``), the
effective style (:meth:`StyleTargets.fingerprint`), the predictor weights
(``weights_fingerprint()`` of the process's module, ``"none"`` if it has
none), the process function, the engine and refinement options, the roles, the exports and delivery asked for,
and each input's path, size and modification time (ns). Content is not
hashed: stat is instant, hashing hours of audio is not.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable, Sequence

__all__ = ["input_records", "session_fingerprint", "weights_fingerprint", "process_name"]


def input_records(paths: Sequence[str]) -> list[dict[str, Any]]:
    """``[{path, size, mtime_ns}]`` per input (``size`` -1 when the file cannot be stat-ed)."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append({"path": p, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        except OSError:
            out.append({"path": p, "size": -1, "mtime_ns": 0})
    return out


def process_name(process: Callable | str) -> str:
    """``module:qualname`` of a process function (its identity in the fingerprint)."""
    if isinstance(process, str):
        return process
    return f"{getattr(process, '__module__', '?')}:{getattr(process, '__qualname__', repr(process))}"


def weights_fingerprint(process: Callable | str) -> str:
    """The predictor weights hash of the process's module (``weights_fingerprint()``), else ``"none"``."""
    import importlib

    module_name = process_name(process).split(":", 1)[0]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return "none"
    fn = getattr(module, "weights_fingerprint", None)
    return str(fn()) if callable(fn) else "none"


def session_fingerprint(*, inputs: list[dict], style_fingerprint: str, engine_version: str, weights: str,
                        process: str, engine: str, optimize_steps: int, roles: dict | None,
                        exports: list[str] = (), delivery: dict | None = None) -> str:
    """SHA-256 over everything the session's outputs depend on (see the module docstring)."""
    blob = json.dumps({
        "engine_version": engine_version, "style": style_fingerprint, "weights": weights, "process": process,
        "engine": engine, "optimize_steps": optimize_steps, "roles": roles or {}, "inputs": inputs,
        **({"exports": list(exports)} if exports else {}),  # absent when none: earlier runs' keys still match
        **({"delivery": delivery} if delivery else {}),
    }, sort_keys=True, ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()

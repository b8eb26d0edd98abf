"""What runs on a worker: one session from paths to files, returning a small record.

Workers receive a :class:`BatchTask` (paths and options, built by
:func:`automix.batch.runner.run_batch`), read the stems and write the outputs
themselves, and send back a record of a few hundred bytes. Every error of the
session is caught here and becomes ``status: failed`` with a stable code, so
one bad session never aborts the pool; only a native crash (segfault, OOM
kill) or a hang escapes, and the driver handles those.

Order of writes in ``OUT_DIR/<session>/`` (each atomic: temp file in the same
folder, fsync, ``os.replace``): the stale ``report.json`` is removed first
(a half-redone session must never look done), then the process writes
``mix.wav`` and ``settings.json``, then the exports asked for (``stems/``,
``<session>.dawproject``, ``<session>.RPP``, ``settings.csv``), then ``report.json`` is written last: it is
the commit marker, and it records every output's size, exports included (a deleted export makes the
session out of date). A failed session leaves only its ``report.json`` (stale
``mix.wav`` / ``settings.json`` of an earlier run are removed, so a folder
never holds a mix its report does not vouch for). The session's page
(``report.html``) is removed with the stale report and written again by the
batch at its end, from the finished outputs.

While a session runs, a marker ``OUT_DIR/.automix/running/<token>.json``
(pid, host, dask worker address, start time) tells the driver which sessions
are in flight, for timeouts and to tell a crash's culprit from bystanders.
"""
from __future__ import annotations

import importlib
import json
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["BatchTask", "run_session", "check_access", "build_report", "marker_path", "read_marker", "REPORT_SCHEMA",
           "DEFAULT_PROCESS", "resolve_process"]

REPORT_SCHEMA = "automix.batch.report/1"
DEFAULT_PROCESS = "automix.mixer:mix_session"
MIX_NAME, SETTINGS_NAME, REPORT_NAME = "mix.wav", "settings.json", "report.json"
#: the curves the browser views draw (:mod:`automix.views`)
VIEWS_NAME = "views.json"
#: the session's browser page, written by the batch at its end (:mod:`automix.pages`)
PAGE_NAME = "report.html"
STATE_DIR = ".automix"

_STYLES: dict[str, Any] = {}


@dataclass
class BatchTask:
    """One session's work order: everything a worker needs, and nothing it must look up (it may run on
    another machine). Pickled to the worker; small (paths and options, never audio)."""

    session: str  # the session's name (its folder's)
    stems: list[str]  # absolute paths
    out_dir: str  # OUT_DIR/<session>
    state_dir: str  # OUT_DIR/.automix (markers of the sessions in flight)
    style_name: str | None  # None when the session's style could not be resolved (it fails before dispatch)
    style_targets: dict | None  # the style as data (StyleTargets.to_dict), so workers need no targets file
    style_fingerprint: str | None
    roles: dict[str, str] | None  # stem file name -> role, from the session's automix.yaml
    engine: str
    optimize_steps: int
    process: str | None  # "module:function" run per session; None for the mixer
    fingerprint: str  # the resume key: inputs, style, engine, weights, options
    inputs: list[dict]  # size and modification time of every stem (fingerprint.input_records)
    engine_version: str
    warnings: list[str] = field(default_factory=list)  # discovery's, carried into the session's report
    index: int = 0  # dispatch order, in the token
    attempt: int = 0  # 1 on the first dispatch, more on retries after a crash
    token: str = ""  # unique per attempt: names the in-flight marker
    exports: list[str] = field(default_factory=list)  # export kinds written beside the mix (automix.export)
    #: {"deliver": "spotify,cd" or None, "bits", "rate", "codec_check", "reference": the reference's measurements}
    delivery: dict | None = None


def _one_line(text: str, limit: int = 400) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def peak_rss_mb() -> float:
    """This process's own peak resident memory (MB). On Linux the high-water mark of its memory map
    (``VmHWM``): ``ru_maxrss`` survives ``exec`` and so starts at whatever the parent held when it forked."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024.0 * 1024.0) if sys.platform == "darwin" else rss / 1024.0, 1)


def marker_path(state_dir: str, token: str) -> Path:
    return Path(state_dir, "running", f"{token}.json")


def read_marker(state_dir: str, token: str) -> dict | None:
    """The in-flight marker of a task, or None if it has not started (or just finished)."""
    try:
        with open(marker_path(state_dir, token), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _dask_worker_address() -> str | None:
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import get_worker

        return get_worker().address
    except Exception:
        return None


def _write_marker(task: BatchTask) -> Path:
    path = marker_path(task.state_dir, task.token)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    data = {"session": task.session, "token": task.token, "pid": os.getpid(), "host": socket.gethostname(),
            "worker": _dask_worker_address(), "started": time.time()}
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)  # no fsync: a marker only has to outlive the task, not a power cut
    return path


def resolve_process(process: Callable | str | None) -> Callable:
    """A process function from a callable or ``"module:qualname"`` (default: the mixer)."""
    if callable(process):
        return process
    module_name, _, qualname = (process or DEFAULT_PROCESS).partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _style(task: BatchTask):
    """Rebuild the driver's (already validated) style from its plain dict, checked by fingerprint.

    The constructor is used rather than ``StyleTargets.from_dict`` because
    validation pulls in the plugin registry (and torch): seconds per fresh
    worker, for a check the driver already made.
    """
    fp = task.style_fingerprint
    style = _STYLES.get(fp)
    if style is None:
        from automix.styles import FrequencyBalance, StyleTargets, Tolerances

        d = dict(task.style_targets)
        style = StyleTargets(name=task.style_name, lufs=d["lufs"], spectral_centroid_hz=d["spectral_centroid_hz"],
                             stereo_ms_ratio=d["stereo_ms_ratio"],
                             frequency_balance=FrequencyBalance(**d["frequency_balance"]),
                             true_peak_ceiling_dbtp=d["true_peak_ceiling_dbtp"],
                             tolerances=Tolerances(**d["tolerances"]), description=d["description"],
                             character=tuple(d["character"]), processing_chains=d["processing_chains"],
                             role_balance_db=d["role_balance_db"], role_pan=d["role_pan"],
                             role_width=d["role_width"], source=f"<batch style {fp[:12]}>")
        if style.fingerprint() != fp:  # the dict and the class drifted apart: validate the slow way
            style = StyleTargets.from_dict(task.style_name, task.style_targets, source=style.source)
        _STYLES[fp] = style
    return style


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _output_record(path: Path, folder: Path) -> dict | None:
    try:
        return {"file": path.relative_to(folder).as_posix(), "bytes": path.stat().st_size}
    except OSError:
        return None


def _missed_reason(report: dict) -> str:
    targets = report.get("targets") or {}
    missed = [name for name, t in targets.items() if isinstance(t, dict) and t.get("pass") is False]
    return "hard target missed" + (f" ({', '.join(missed)})" if missed else "") + "; the mix is kept, see report.json"


def _soft_missed(report: dict | None) -> list[str]:
    """Names of the soft targets (centroid, M/S, band balance) the mix missed; the mix's report says why."""
    targets = (report or {}).get("targets") or {}
    return [name for name, t in targets.items() if isinstance(t, dict) and t.get("hard") is False and t.get("pass") is False]


def build_report(task: BatchTask, *, status: str, code: str | None, reason: str | None, seconds: float | None,
                 mix: dict | None = None, warnings: list[str] | None = None, outputs: dict | None = None,
                 worker: dict | None = None, detail: str | None = None) -> dict:
    """The ``report.json`` of a session (format in the README): batch envelope plus the mixer's report."""
    return {
        "schema": REPORT_SCHEMA,
        "session": task.session,
        "status": status,
        "code": code,
        "reason": reason,
        "fingerprint": task.fingerprint,
        "engine_version": task.engine_version,
        "style": task.style_name,
        "style_fingerprint": task.style_fingerprint,
        "inputs": task.inputs,
        "outputs": outputs or {},
        "warnings": list(task.warnings) + list(warnings or []),
        "seconds": None if seconds is None else round(seconds, 3),
        "attempt": max(task.attempt, 1),
        "worker": worker or {},
        "finished": _utc_now(),
        "detail": detail,
        "mix": mix,
    }


def _utc_now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_report(out_dir: Path, report: dict) -> None:
    from automix.batch.ledger import write_json_atomic

    write_json_atomic(out_dir / REPORT_NAME, report)


def _delivery_kwargs(task: BatchTask, style) -> dict:
    """The mixer's delivery arguments for the task (none when it delivers nothing special): the specs, format and
    codecs, and with a reference (``--reference``) its spectrum to steer by and the report's ``reference`` block.
    The task's style already holds the reference's targets (the runner set them)."""
    if not task.delivery:
        return {}
    from automix.codecs import parse_codecs
    from automix.delivery import parse_specs, plan

    chosen = parse_specs(task.delivery.get("deliver"))
    main_style, fmt, extras = plan(style, chosen, Path(task.out_dir) / MIX_NAME, bits=task.delivery.get("bits"),
                                   rate=task.delivery.get("rate"))
    ref = None
    if task.delivery.get("reference"):
        from automix.reference import reference_from_record

        ref = reference_from_record(task.delivery["reference"])

    from automix.session import finish_report

    return {"style": main_style, "out_format": fmt, "extra_masters": extras,
            "codecs": parse_codecs(task.delivery.get("codec_check")),
            "report_hook": lambda r: finish_report(r, style, chosen, ref),
            **({"spectrum_reference": list(ref.octave_db)} if ref is not None else {})}


def master_paths(task: BatchTask) -> dict[str, Path]:
    """The session's further masters (``mix.<spec>.wav`` per delivery spec after the first) and every master's
    encodes (``--codec-check``), by name."""
    if not task.delivery:
        return {}
    from automix.codecs import encoded_path, parse_codecs
    from automix.delivery import output_for, parse_specs

    main = Path(task.out_dir) / MIX_NAME
    chosen = parse_specs(task.delivery.get("deliver"))
    masters = {"mix": main} | {s.name: output_for(main, s, False) for s in chosen[1:]}
    out = {name: path for name, path in masters.items() if name != "mix"}
    for codec in parse_codecs(task.delivery.get("codec_check")):
        out |= {f"{name}.{codec.name}": encoded_path(path, codec) for name, path in masters.items()}
    return out


def export_paths(task: BatchTask) -> dict[str, Path]:
    """Where each export of the session goes, in its output folder."""
    out = Path(task.out_dir)
    names = {"stems": out / "stems", "dawproject": out / f"{task.session}.dawproject",
             "reaper": out / f"{task.session}.RPP", "csv": out / "settings.csv"}
    return {k: names[k] for k in task.exports}


def write_exports(task: BatchTask) -> dict[str, list[Path]]:
    """Write the session's exports from its settings (the stems checked against them); the files per kind."""
    from automix.export import export

    out, written = Path(task.out_dir), {}
    paths = export_paths(task)
    for kind, path in paths.items():
        written[kind] = [Path(p) for p in export(kind, out / SETTINGS_NAME, path, force=True, threads=1,
                                                 prints=paths.get("stems"))]
    return written


def _remove_exports(task: BatchTask) -> None:
    import shutil

    for kind, path in export_paths(task).items():
        if kind == "stems":
            shutil.rmtree(path, ignore_errors=True)
        else:
            _remove(path)


def run_session(task: BatchTask) -> dict:
    """Render one session on this worker; never raises for a session's own errors.

    Args:
        task: the session's work order.

    Returns:
        ``{session, token, status, code, reason, seconds, process_seconds,
        setup_seconds, warnings, soft_missed, pid, host, peak_rss_mb, dask_worker}``
        (``warnings``: the session's warning lines, discovery's and the mix's)
        (``setup_seconds``: importing the process function, first time per
        worker mostly) where status is ``ok``,
        ``missed`` (a hard target missed, mix kept) or ``failed``.
    """
    from automix.errors import AutomixError
    from automix.runtime import configure

    configure()  # a worker may not have been started by the CLI
    t0 = time.perf_counter()
    out = Path(task.out_dir)
    exported: dict[str, list[Path]] = {}
    marker = None
    mix_report = None
    process_seconds = None
    setup_seconds = None
    detail = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        marker = _write_marker(task)
        _remove(out / REPORT_NAME)
        _remove(out / PAGE_NAME)  # a page of the earlier run would vouch for outputs being redone
        t1 = time.perf_counter()
        process = resolve_process(task.process)
        style = _style(task)
        setup_seconds = time.perf_counter() - t1
        t1 = time.perf_counter()
        delivering = _delivery_kwargs(task, style)
        mix_report = process(list(task.stems), style=delivering.pop("style", style), output=str(out / MIX_NAME),
                             settings_out=str(out / SETTINGS_NAME), report_out=None,
                             views_out=str(out / VIEWS_NAME), engine=task.engine,
                             optimize_steps=task.optimize_steps, roles=task.roles, threads=1, **delivering)
        process_seconds = time.perf_counter() - t1
        if not isinstance(mix_report, dict):
            raise TypeError(f"the process returned {type(mix_report).__name__}, not a report dict")
        if not (out / MIX_NAME).is_file():
            raise RuntimeError("the process reported success but wrote no mix.wav")
        exported = write_exports(task)
        if mix_report.get("status", "ok") == "ok":
            status, code, reason = "ok", None, None
        else:
            status, code, reason = "missed", "E_TARGET_MISSED", _missed_reason(mix_report)
    except AutomixError as e:
        status, code, reason = "failed", e.code, _one_line(str(e))
    except MemoryError:
        status, code, reason = "failed", "E_MEMORY", "ran out of memory while rendering; free memory or lower --jobs"
    except Exception as e:  # a bug or an unexpected library error: explain it, keep the batch going
        status, code, reason = "failed", "E_INTERNAL", _one_line(f"{type(e).__name__}: {e}")
        detail = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-6:])
    seconds = time.perf_counter() - t0
    worker = {"pid": os.getpid(), "host": socket.gethostname(), "peak_rss_mb": peak_rss_mb(),
              "dask_worker": _dask_worker_address()}
    warnings = list((mix_report or {}).get("warnings") or [])
    if status == "failed":
        _remove(out / MIX_NAME)
        _remove(out / SETTINGS_NAME)
        _remove(out / VIEWS_NAME)
        _remove_exports(task)
        for path in master_paths(task).values():
            _remove(path)
        exported = {}
    records = [("mix", out / MIX_NAME), ("settings", out / SETTINGS_NAME)]
    records += [(f"master:{name}", path) for name, path in master_paths(task).items()]
    records += [(f"{kind}:{p.relative_to(out).as_posix()}", p) for kind, paths in exported.items() for p in paths]
    outputs = {k: r for k, r in ((k, _output_record(p, out)) for k, p in records) if r is not None}
    try:
        write_report(out, build_report(task, status=status, code=code, reason=reason, seconds=seconds,
                                       mix=mix_report, warnings=warnings, outputs=outputs, worker=worker,
                                       detail=detail))
    except Exception as e:  # the output folder went away or filled up
        status, code, reason = "failed", getattr(e, "code", "E_OUTPUT"), _one_line(f"report.json not written: {e}")
    finally:
        if marker is not None:
            _remove(marker)
    return {"session": task.session, "token": task.token, "status": status, "code": code, "reason": reason,
            "seconds": round(seconds, 4),
            "process_seconds": None if process_seconds is None else round(process_seconds, 4),
            "setup_seconds": None if setup_seconds is None else round(setup_seconds, 4),
            "warnings": [_one_line(w) for w in list(task.warnings) + warnings],
            "soft_missed": _soft_missed(mix_report) if status != "failed" else [],
            "exports": {kind: len(paths) for kind, paths in exported.items()}, **worker}


def check_access(in_dir: str, out_dir: str, sample: str | None) -> dict:
    """Run on each worker before dispatch: can it see the inputs and write the outputs?"""
    problems = []
    if not os.path.isdir(in_dir):
        problems.append(f"cannot see the input folder {in_dir}")
    elif sample is not None and not os.path.exists(sample):
        problems.append(f"cannot see {sample}")
    probe = Path(out_dir, STATE_DIR, f"access-{socket.gethostname()}-{os.getpid()}.tmp")
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as e:
        problems.append(f"cannot write to the output folder {out_dir} ({e.strerror or e})")
    return {"host": socket.gethostname(), "pid": os.getpid(), "problems": problems}

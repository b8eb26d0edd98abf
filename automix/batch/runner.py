"""``automix batch``: every session of a folder rendered, every failure explained, nothing corrupted.

One call, :func:`run_batch`, does the whole run:

1. **Before any work** (errors exit 2): the style and ``--targets`` are
   loaded and validated; ``IN_DIR`` must be a folder and no output may land
   inside it.
2. **Output folder** (errors exit 3): created, checked writable and locked
   (``OUT_DIR/.automix/lock``; a second runner on the same folder is refused);
   temp files left by a killed run (``*.<12 hex>.partial*``) are removed.
3. **Discovery** (:mod:`automix.discovery`), then per session its effective
   style (``automix.yaml`` overrides) and fingerprint
   (:mod:`automix.batch.fingerprint`). **Resume**: a session whose ``report.json``
   says ``ok``, whose fingerprint matches and whose outputs have the recorded
   sizes is ``skipped`` (``force`` redoes all); everything else is redone.
4. **Up-front pass**: every stem of every session to render is probed
   (header only); every unusable stem is listed before any rendering. With
   ``fail_fast`` the run stops there (exit 2); otherwise those sessions are
   ``failed`` with the stem's code and the others proceed.
5. **Dispatch** through an executor (:mod:`automix.batch.executors`), biggest
   sessions first. Each outcome is appended to ``ledger.jsonl`` as it
   arrives. SIGINT / SIGTERM stop dispatching, stop the workers, record
   ``interrupted`` and return exit 130 / 143; the rerun resumes.
6. ``summary.json`` and the table.

Statuses: ``ok``; ``missed`` (rendered, but a hard target - loudness or
true peak - was missed: the mix is kept, code ``E_TARGET_MISSED``, counts as
a failure for the exit code and is redone on a rerun); ``failed`` (a
stable code and a one-line reason; no mix); ``crashed`` (its worker died
every time it ran alone, ``E_WORKER_CRASH``); ``skipped`` (up to date);
``interrupted`` (stopped by a signal, redone on the rerun).

Exit codes: 0 all ok or skipped; 1 some session missed, failed or crashed;
2 usage or style error, or ``fail_fast`` with unusable stems; 3
infrastructure error (raised as :class:`InfrastructureError`); 130 / 143
interrupted by SIGINT / SIGTERM.
"""
from __future__ import annotations

import math
import os
import re
import signal
import threading
import time
import unicodedata
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from automix.constants import ENGINES
from automix.errors import (EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_SIGNAL, EXIT_USAGE, AutomixError,
                            InfrastructureError, StyleError, UsageError)
from automix.discovery import Session, discover_sessions
from automix.batch.fingerprint import input_records, process_name, session_fingerprint, weights_fingerprint
from automix.batch.ledger import Ledger, utc_now, write_json_atomic
from automix.batch.worker import (DEFAULT_PROCESS, MIX_NAME, PAGE_NAME, REPORT_NAME, SETTINGS_NAME, STATE_DIR,
                                  VIEWS_NAME, BatchTask, build_report, write_report)

__all__ = ["run_batch", "BatchResult", "SessionOutcome", "SUMMARY_SCHEMA", "is_up_to_date"]

SUMMARY_SCHEMA = "automix.batch.summary/1"
BACKENDS = ("loky", "dask")
STATUSES = ("ok", "skipped", "missed", "failed", "crashed", "interrupted")
_PARTIAL = re.compile(r"\.[0-9a-f]{12}\.partial(\.[A-Za-z0-9]+)?$")


@dataclass
class SessionOutcome:
    """One session's line in the summary."""

    session: str
    status: str
    code: str | None = None
    reason: str | None = None
    seconds: float | None = None
    attempts: int = 0
    warnings: int = 0
    #: soft targets missed by a rendered mix (its report.json says why); empty for other outcomes
    soft_missed: list[str] = field(default_factory=list)
    #: the warning lines (discovery's and the mix's), shown on the console as the session finishes
    warning_lines: list[str] = field(default_factory=list)


@dataclass
class BatchResult:
    """What :func:`run_batch` did; ``exit_code`` is what the CLI exits with."""

    exit_code: int
    run_id: str
    in_dir: str
    out_dir: str
    sessions: list[SessionOutcome]
    notes: list[str]
    problems: list[str]
    counts: dict[str, int]
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    interrupted_by: str | None = None

    @property
    def ledger_path(self) -> str:
        return os.path.join(self.out_dir, "ledger.jsonl")

    @property
    def summary_path(self) -> str:
        return os.path.join(self.out_dir, "summary.json")

    def table(self) -> str:
        """The summary table printed on stdout."""
        from automix.batch.progress import summary_table

        return summary_table(self)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _one_line(text: str, limit: int = 400) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def is_up_to_date(session_dir: str | os.PathLike, fingerprint: str) -> bool:
    """True if the session's report says ok, matches ``fingerprint`` and its outputs have the recorded sizes."""
    import json

    try:
        with open(Path(session_dir, REPORT_NAME), encoding="utf-8") as f:
            report = json.load(f)
    except (OSError, ValueError):
        return False
    if not isinstance(report, dict) or report.get("status") != "ok" or report.get("fingerprint") != fingerprint:
        return False
    outputs = report.get("outputs") or {}
    if "mix" not in outputs:
        return False
    for rec in outputs.values():
        try:
            if os.path.getsize(Path(session_dir, rec["file"])) != rec["bytes"]:
                return False
        except (OSError, KeyError, TypeError):
            return False
    return True


def _clean_partials(out_dir: str, state_dir: str) -> list[str]:
    """Remove temp files a killed run left (only ours: ``<name>.<12 hex>.partial[.ext]``)."""
    removed = []
    folders = [out_dir]
    try:
        with os.scandir(out_dir) as it:
            folders += [e.path for e in it if e.is_dir(follow_symlinks=False) and e.name != STATE_DIR]
    except OSError:
        pass
    for folder in folders:
        try:
            with os.scandir(folder) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False) and folder != out_dir:
                        folders.append(e.path)  # a session's printed stems folder
                    elif e.is_file(follow_symlinks=False) and _PARTIAL.search(e.name):
                        os.unlink(e.path)
                        removed.append(os.path.relpath(e.path, out_dir))
        except OSError:
            continue
    _clear_markers(state_dir)
    return removed


def _clear_markers(state_dir: str) -> None:
    running = Path(state_dir, "running")
    if running.is_dir():
        for p in running.iterdir():
            p.unlink(missing_ok=True)


class _Lock:
    """An exclusive lock on the output folder (released by the kernel even after ``kill -9``)."""

    def __init__(self, state_dir: str, out_dir: str):
        import fcntl

        self.path = os.path.join(state_dir, "lock")
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(self.fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self.fd)
            raise InfrastructureError(f"{out_dir}: another automix batch (pid {holder}) is writing to this output "
                                      "folder; wait for it or choose another --out") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)

    def release(self) -> None:
        os.close(self.fd)


class _StyleBook:
    """Effective style per session: ``automix.yaml`` overrides over the batch's style, and a reference's targets
    (``--reference``) over either."""

    def __init__(self, base, base_name: str | None, base_targets, reference=None):
        self.base, self.base_name, self.base_targets = base, base_name, base_targets
        self.reference = reference
        self._files: dict[str, dict] = {}

    def _load(self, path: str) -> dict:
        from automix.styles import load_style_targets

        if path not in self._files:
            self._files[path] = load_style_targets(path)
        return self._files[path]

    def resolve(self, session: Session):
        """(style, None) or (None, (code, reason))."""
        style, problem = self._resolve(session)
        if style is not None and self.reference is not None:
            from automix.reference import styled_from_reference

            style = styled_from_reference(style, self.reference)
        return style, problem

    def _resolve(self, session: Session):
        from automix.styles import get_style, load_style_targets

        cfg = session.config
        if cfg.error:
            return None, ("E_CONFIG", cfg.error)
        if not cfg.style and not cfg.targets:
            return self.base, None
        try:
            if cfg.targets:
                styles = self._load(cfg.targets)
                name = cfg.style or (None if len(styles) == 1 else (self.base_name or self.base.name))
                return get_style(name, styles), None
            for source in ([self.base_targets] if self.base_targets else []) + [load_style_targets()]:
                if cfg.style in source:
                    return source[cfg.style], None
            return get_style(cfg.style, self.base_targets), None
        except StyleError as e:
            return None, ("E_STYLE", _one_line(f"{cfg.path}: {e}"))


class _StopFlag:
    """Set by SIGINT/SIGTERM: stop dispatching (the executors poll it). Only sets a flag: a handler
    that wrote output could re-enter a write the main thread is in the middle of."""

    def __init__(self):
        self.signum: int | None = None

    def __call__(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum


class _signals:
    """Install the stop flag as SIGINT/SIGTERM handler for the run (main thread only), then restore."""

    def __init__(self, flag: _StopFlag, enabled: bool):
        self.flag, self.enabled, self.saved = flag, enabled, {}

    def __enter__(self):
        if self.enabled and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self.flag)
        return self.flag

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


class _Run:
    """The driver's bookkeeping: hooks for the executor, ledger, outcomes."""

    def __init__(self, ledger: Ledger, reporter, total: int, flag: _StopFlag):
        self.ledger = ledger
        self.reporter = reporter
        self.total = total
        self.flag = flag
        self.outcomes: dict[str, SessionOutcome] = {}
        self.overhead_s = 0.0

    @property
    def signal(self) -> int | None:
        return self.flag.signum

    # -- executor hooks --------------------------------------------------
    def stopped(self) -> bool:
        return self.flag.signum is not None

    def result(self, task: BatchTask, record: dict) -> None:
        t = time.perf_counter()
        lines = list(record.get("warnings") or [])
        self._record(task, SessionOutcome(task.session, record["status"], record.get("code"), record.get("reason"),
                                          record.get("seconds"), max(task.attempt, 1), len(lines),
                                          soft_missed=list(record.get("soft_missed") or []), warning_lines=lines),
                     extra={"process_seconds": record.get("process_seconds"),
                            "setup_seconds": record.get("setup_seconds"), "pid": record.get("pid"),
                            "host": record.get("host"), "peak_rss_mb": record.get("peak_rss_mb"),
                            "exports": record.get("exports") or {}})
        self.overhead_s += time.perf_counter() - t

    def fail(self, task: BatchTask, status: str, code: str, reason: str, detail: str | None = None) -> None:
        out = Path(task.out_dir)
        if code == "E_NAME":  # its folder may be another session's: touch nothing there
            self._record(task, SessionOutcome(task.session, status, code, reason))
            return
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name in (MIX_NAME, SETTINGS_NAME, VIEWS_NAME, PAGE_NAME):
                (out / name).unlink(missing_ok=True)
            write_report(out, build_report(task, status=status, code=code, reason=reason, seconds=None,
                                           detail=detail))
        except OSError as e:
            reason = f"{reason} (report.json not written: {e.strerror or e})"
        self._record(task, SessionOutcome(task.session, status, code, reason, None, task.attempt,
                                          len(task.warnings), warning_lines=list(task.warnings)))

    def crash(self, task: BatchTask, detail: str, alone: bool) -> None:
        self.ledger.append("crash", session=task.session, detail=detail, alone=alone,
                           attempt=max(task.attempt, 1))
        if self.reporter:
            how = "alone" if alone else "with others in flight; re-running them alone"
            self.reporter.note(f"{task.session}: worker died ({how})")

    # -- bookkeeping -------------------------------------------------------
    def _record(self, task: BatchTask, outcome: SessionOutcome, extra: dict | None = None) -> None:
        self.outcomes[outcome.session] = outcome
        self.ledger.append("result", session=outcome.session, status=outcome.status, code=outcome.code,
                           reason=outcome.reason, seconds=outcome.seconds, attempts=outcome.attempts,
                           soft_missed=outcome.soft_missed, fingerprint=task.fingerprint, **(extra or {}))
        if self.reporter:
            self.reporter.session_done(outcome, len(self.outcomes), self.total)

    def skipped(self, name: str, fingerprint: str) -> None:
        self.outcomes[name] = SessionOutcome(name, "skipped", reason="up to date")
        self.ledger.append("skipped", session=name, reason="up to date (report ok, fingerprint and outputs match)",
                           fingerprint=fingerprint)
        if self.reporter:
            self.reporter.session_done(self.outcomes[name], len(self.outcomes), self.total)


def _validate_options(jobs, backend, scheduler, retries, timeout, engine, optimize_steps) -> tuple[int, str]:
    if backend is None:
        backend = "dask" if scheduler else "loky"
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; choose loky or dask")
    if scheduler and backend != "dask":
        raise UsageError("--scheduler needs --backend dask (or leave --backend out)")
    if scheduler and not re.match(r"^[a-z]+://", scheduler):
        raise UsageError(f"--scheduler {scheduler!r}: expected an address like tcp://HOST:PORT")
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not isinstance(jobs, int) or jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, got {jobs!r}")
    if not isinstance(retries, int) or retries < 0:
        raise UsageError(f"--retries must be 0 or more, got {retries!r}")
    if timeout is not None and not (timeout > 0):
        raise UsageError(f"--timeout must be a positive number of seconds, got {timeout!r}")
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
    if not isinstance(optimize_steps, int) or optimize_steps < 0:
        raise UsageError(f"optimize_steps must be 0 or more, got {optimize_steps!r}")
    return jobs, backend


def _preflight(session: Session) -> list[tuple[str, str, str]]:
    """(stem, code, message) for every unusable stem of a session (header checks only)."""
    from automix.audio_io import probe

    problems = []
    for p in session.stems:
        if p in session.dangling:
            problems.append((p, "E_MISSING", f"{p}: dangling symbolic link (-> {session.dangling[p]}); "
                                             "fix or remove the link"))
            continue
        try:
            probe(p)
        except AutomixError as e:
            problems.append((p, e.code, _one_line(str(e))))
    return problems


def _signal_name(signum: int | None) -> str | None:
    return None if signum is None else signal.Signals(signum).name


def run_batch(in_dir: str | os.PathLike, out_dir: str | os.PathLike, *, style: str | None = None,
              targets: str | os.PathLike | None = None, jobs: int | None = None, backend: str | None = None,
              scheduler: str | None = None, retries: int = 1, timeout: float | None = None, force: bool = False,
              fail_fast: bool = False, follow_links: bool = False, process: Callable | str | None = None,
              engine: str = "pedalboard", optimize_steps: int = 0, reporter=None, handle_signals: bool = True,
              connect_timeout: float = 10.0, html: bool = True, exports: Sequence[str] = (),
              deliver: str | None = None, bits: str | None = None, rate: int | None = None,
              codec_check: str | None = None, album: bool = False,
              reference: str | None = None) -> BatchResult:
    """Render every session of ``in_dir`` into ``out_dir`` (see the module docstring).

    Args:
        in_dir: folder of session folders, or one session folder.
        out_dir: where ``<session>/{mix.wav, settings.json, report.json}``,
            ``ledger.jsonl`` and ``summary.json`` go; never inside ``in_dir``.
        html: also write the browser pages at the end (``index.html``, the
            dashboard, and ``<session>/report.html``; :mod:`automix.pages`).
        style: style name (of ``targets`` or the built-in presets); ``None``
            if ``targets`` holds exactly one style.
        targets: a targets YAML file (``--targets``).
        jobs: sessions rendered at once (local workers, or LocalCluster
            workers); default: the CPUs available.
        backend: ``"loky"`` (joblib; the caller's ``joblib.parallel_config``
            backend applies, loky by default) or ``"dask"``; default loky, or
            dask when ``scheduler`` is given.
        scheduler: address of an existing dask scheduler (``tcp://host:port``).
        retries: extra runs of a session whose worker died before it is
            ``crashed`` (dask: ``retries=`` of ``Client.submit`` and, for the
            LocalCluster started here, ``allowed-failures``).
        timeout: seconds a session may run before its worker is stopped
            (``failed``, ``E_TIMEOUT``); ``None``: no limit.
        force: redo every session, even those up to date.
        fail_fast: stop after the up-front pass if any stem is unusable (exit 2).
        follow_links: use symbolic links that leave ``in_dir``.
        process: the single-session function (default
            ``automix.mixer:mix_session``), a module-level callable or a
            ``"module:qualname"`` string importable on every worker.
        engine, optimize_steps: passed to the process.
        exports: export kinds (:data:`automix.export.KINDS`) each session writes beside its mix, before its
            report (:func:`automix.batch.worker.write_exports`).
        deliver, bits, rate: delivery specs (``"spotify,cd"``) and the output's word length and rate, as for
            ``automix mix``: ``mix.wav`` meets the first spec, ``mix.<spec>.wav`` each further one.
        codec_check: codecs (``"mp3,aac"``) every master is made safe for, its encodes written beside it.
        album: master the sessions as one album (:mod:`automix.album`): one style, one loudness anchor, each
            track's offset from it; ``summary.json`` gets ``album`` (the anchor and each track's offset).
        reference: a finished track every session is mixed toward, as ``automix mix --reference`` does
            (:mod:`automix.reference`): measured once here, its loudness, centroid, M/S and band balance
            replace each session's style targets (with ``album``, its loudness is the album's anchor) and each
            report gets its ``reference`` block.
        reporter: progress sink (:class:`automix.batch.progress.ConsoleReporter`) or None.
        handle_signals: install SIGINT/SIGTERM handlers (main thread only).
        connect_timeout: seconds to reach ``scheduler``.

    Returns:
        :class:`BatchResult` (exit code 0, 1, 2 for ``fail_fast``, 130 or 143).

    Raises:
        StyleError, UsageError: before any work (exit 2).
        InfrastructureError: output not writable or locked, scheduler
            unreachable, workers that cannot see the paths (exit 3).
    """
    from automix import __version__
    from automix.styles import get_style, load_style_targets

    t_start = time.perf_counter()
    if exports:
        from automix.export import parse_kinds

        exports = parse_kinds(",".join(exports))
    delivery = ref = None
    if deliver or bits or rate or codec_check or reference is not None:
        from automix.codecs import parse_codecs
        from automix.delivery import parse_specs
        from automix.finish import OutputFormat, check_format

        chosen = parse_specs(deliver)  # usage errors before any work
        codecs = parse_codecs(codec_check)
        check_format("mix.wav", OutputFormat(bits or "24", rate))
        delivery = {"deliver": ",".join(s.name for s in chosen) or None, "bits": bits, "rate": rate,
                    "codec_check": ",".join(c.name for c in codecs) or None}
        if reference is not None:  # measured once, before any work: a silent, short or mono reference is exit 2
            from automix.reference import measure_reference, reference_record

            ref = measure_reference(reference)
            delivery["reference"] = reference_record(ref)
    jobs, backend = _validate_options(jobs, backend, scheduler, retries, timeout, engine, optimize_steps)
    base_targets = load_style_targets(targets) if targets is not None else None
    base_style = get_style(style, base_targets)

    in_abs, out_abs = os.path.abspath(in_dir), os.path.abspath(out_dir)
    if not os.path.isdir(in_abs):
        raise UsageError(f"{in_dir}: not a folder; point automix batch at a folder of sessions")
    in_real, out_real = os.path.realpath(in_abs), os.path.realpath(out_abs)
    if _inside(out_real, in_real):
        raise UsageError(f"--out {out_dir} is inside the input folder {in_dir}; automix never writes into "
                              "the input folder, choose an output folder outside it")
    t = time.perf_counter()
    discovery = discover_sessions(in_abs, follow_links=follow_links, exclude=(out_abs,))
    timings = {"discovery_s": time.perf_counter() - t}
    for s in discovery.sessions:
        if _inside(os.path.realpath(os.path.join(out_abs, s.name)), in_real):
            raise UsageError(f"the output folder of session {s.name!r} would be {os.path.join(out_abs, s.name)}, "
                                  f"inside the input folder; choose another --out")

    state_dir = os.path.join(out_abs, STATE_DIR)
    try:
        os.makedirs(os.path.join(state_dir, "running"), exist_ok=True)
        probe_file = os.path.join(state_dir, f"write-check.{uuid.uuid4().hex[:8]}")
        with open(probe_file, "wb") as f:
            f.write(b"ok")
        os.unlink(probe_file)
    except OSError as e:
        raise InfrastructureError(f"{out_dir}: output folder cannot be created or written "
                                  f"({e.strerror or e}); check the path and permissions") from None
    plan = _Plan(in_abs=in_abs, out_abs=out_abs, state_dir=state_dir, base_style=base_style, style_name=style,
                 base_targets=base_targets, jobs=jobs, backend=backend, scheduler=scheduler, retries=retries,
                 timeout=timeout, force=force, fail_fast=fail_fast,
                 process=process if process is not None else DEFAULT_PROCESS, engine=engine,
                 optimize_steps=optimize_steps, reporter=reporter, handle_signals=handle_signals,
                 connect_timeout=connect_timeout, version=__version__, html=html, exports=tuple(exports),
                 delivery=delivery, album=album, reference=ref)
    lock = _Lock(state_dir, out_dir)
    try:
        removed = _clean_partials(out_abs, state_dir)
        run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        try:
            ledger = Ledger(os.path.join(out_abs, "ledger.jsonl"), run_id)
        except OSError as e:
            raise InfrastructureError(f"{out_abs}/ledger.jsonl cannot be written ({e.strerror or e})") from None
        try:
            with _signals(_StopFlag(), handle_signals) as flag:
                return _run(plan, discovery, ledger, run_id, removed, timings, t_start, flag)
        finally:
            ledger.close()
    finally:
        lock.release()


@dataclass
class _Plan:
    in_abs: str
    out_abs: str
    state_dir: str
    base_style: object
    style_name: str | None
    base_targets: dict | None
    jobs: int
    backend: str
    scheduler: str | None
    retries: int
    timeout: float | None
    force: bool
    fail_fast: bool
    process: Callable | str
    engine: str
    optimize_steps: int
    reporter: object
    handle_signals: bool
    connect_timeout: float
    version: str
    html: bool = True
    exports: tuple[str, ...] = ()
    delivery: dict | None = None
    album: bool = False
    album_info: dict | None = None
    reference: object = None  # automix.reference.Reference


def _album_plan(plan: _Plan, sessions: list[Session], book: _StyleBook) -> dict:
    """``--album``: every session's style with its loudness at the album's anchor plus the track's offset
    (:mod:`automix.album`); the plan's ``album_info`` records the anchor and each track's offset."""
    import dataclasses

    from automix.album import album_offsets, natural_loudness

    resolved = {s.name: book.resolve(s) for s in sessions}
    names = sorted({st.name for st, problem in resolved.values() if st is not None})
    if len(names) > 1:
        raise UsageError(f"--album masters one record to one style, but the sessions ask for {', '.join(names)} "
                         "(their automix.yaml); give them one style or leave --album out")
    natural = {}
    for s in sessions:
        if resolved[s.name][0] is None:
            continue
        try:
            natural[s.name] = natural_loudness(s.stems)
        except AutomixError:  # an unusable stem: the session fails on its worker with its own code
            natural[s.name] = math.nan
    offsets = album_offsets(natural)
    styles, tracks = {}, []
    for name, offset in offsets.items():
        style = resolved[name][0]
        styles[name] = dataclasses.replace(style, lufs=round(style.lufs + offset, 2))
        tracks.append({"session": name, "natural_lufs": natural[name] if math.isfinite(natural[name]) else None,
                       "offset_lu": offset, "target_lufs": styles[name].lufs})
    anchor = resolved[next(iter(offsets))][0].lufs if offsets else None
    plan.album_info = {"style": names[0] if names else None, "anchor_lufs": anchor, "tracks": tracks}
    return styles


def _plan_sessions(plan: _Plan, sessions: list[Session], run: _Run):
    """(tasks to render, [(task, code, reason)] that failed to configure); skips the up-to-date ones."""
    book = _StyleBook(plan.base_style, plan.style_name, plan.base_targets, plan.reference)
    pname = process_name(plan.process)
    weights = weights_fingerprint(plan.process)
    tasks, failures = [], []
    claimed: dict[str, str] = {}  # output folder names as a case-insensitive, normalising file system sees them
    album_styles = _album_plan(plan, sessions, book) if plan.album else {}
    for s in sessions:
        st, problem = book.resolve(s)
        if st is not None and s.name in album_styles:
            st = album_styles[s.name]
        key = unicodedata.normalize("NFC", s.name).casefold()
        if key in claimed and problem is None:
            problem = ("E_NAME", f"its output folder would be the same as session {claimed[key]!r}'s on a "
                                 "case-insensitive file system; rename one of the two folders")
        claimed.setdefault(key, s.name)
        inputs = input_records(s.stems)
        fp = session_fingerprint(inputs=inputs, style_fingerprint=st.fingerprint() if st else "invalid",
                                 engine_version=plan.version, weights=weights, process=pname, engine=plan.engine,
                                 optimize_steps=plan.optimize_steps, roles=s.config.roles, exports=plan.exports,
                                 delivery=plan.delivery)
        task = BatchTask(session=s.name, stems=list(s.stems), out_dir=os.path.join(plan.out_abs, s.name),
                         state_dir=plan.state_dir, style_name=st.name if st else None,
                         style_targets=st.to_dict() if st else None,
                         style_fingerprint=st.fingerprint() if st else None, roles=s.config.roles,
                         engine=plan.engine, optimize_steps=plan.optimize_steps, process=plan.process,
                         fingerprint=fp, inputs=inputs, engine_version=plan.version, warnings=list(s.warnings),
                         exports=list(plan.exports), delivery=plan.delivery)
        if problem:
            failures.append((task, *problem))
        elif not plan.force and is_up_to_date(task.out_dir, fp):
            run.skipped(s.name, fp)
        else:
            tasks.append((task, s))
    return tasks, failures


def _run(plan: _Plan, discovery, ledger: Ledger, run_id: str, removed: list[str], timings: dict,
         t_start: float, flag: _StopFlag) -> BatchResult:
    started = utc_now()
    notes = list(discovery.notes)
    if removed:
        notes.append(f"removed {len(removed)} temp file(s) left by an interrupted run")
    sessions = discovery.sessions
    reporter = plan.reporter
    run = _Run(ledger, reporter, len(sessions), flag)
    ledger.append("start", in_dir=plan.in_abs, out_dir=plan.out_abs, style=plan.base_style.name,
                  backend=plan.backend, scheduler=plan.scheduler, jobs=plan.jobs, sessions=len(sessions),
                  force=plan.force, pid=os.getpid(), engine_version=plan.version, removed_partials=len(removed))
    if reporter:
        reporter.started(len(sessions), notes)

    t = time.perf_counter()
    candidates, failures = _plan_sessions(plan, sessions, run)
    timings["fingerprint_s"] = time.perf_counter() - t

    # -- up-front pass: every unusable stem of every session, before any rendering --------
    t = time.perf_counter()
    problems = [f"{task.session}: {code}: {reason}" for task, code, reason in failures]
    ready = []
    for task, session in candidates:
        found = _preflight(session)
        if not found:
            ready.append(task)
            continue
        problems += [f"{task.session}: {code}: {msg}" for _, code, msg in found]
        reason = (found[0][2] if len(found) == 1 else
                  f"{len(found)} of {len(task.stems)} stems unusable "
                  f"({', '.join(f'{os.path.basename(p)}: {c}' for p, c, _ in found)}); first: {found[0][2]}")
        failures.append((task, found[0][1], _one_line(reason, 600)))
    timings["preflight_s"] = time.perf_counter() - t
    if reporter and problems:
        reporter.preflight(problems)

    interrupted_by = None
    if plan.fail_fast and problems:
        exit_code = EXIT_USAGE
    else:
        for task, code, reason in failures:
            run.fail(task, "failed", code, reason,
                     detail="\n".join(p for p in problems if p.startswith(task.session + ": ")))
        # biggest sessions first, so the last to start is a short one
        ready.sort(key=lambda tk: (-sum(max(i["size"], 0) for i in tk.inputs), tk.session))
        for i, task in enumerate(ready):
            task.index = i
        unfinished = _dispatch(plan, ready, run, ledger) if ready else []
        _clear_markers(plan.state_dir)  # markers of workers that were killed (crash, timeout, signal)
        if run.signal is not None:
            interrupted_by = _signal_name(run.signal)
            if reporter:
                reporter.note(f"{interrupted_by}: stopped; finished sessions are kept, rerun to resume")
            for task in unfinished:
                run.outcomes[task.session] = SessionOutcome(task.session, "interrupted",
                                                               reason=f"stopped by {interrupted_by}; rerun to resume")
            ledger.append("interrupted", signal=interrupted_by, unfinished=[t.session for t in unfinished])
            exit_code = EXIT_SIGNAL.get(run.signal, EXIT_SIGNAL[signal.SIGINT])
        else:
            for task in unfinished:  # cannot happen without a signal; never lose a session silently
                run.fail(task, "failed", "E_INTERNAL", "the executor returned without running it")
            bad = any(o.status in ("missed", "failed", "crashed") for o in run.outcomes.values())
            exit_code = EXIT_FAILED if bad else EXIT_OK

    outcomes = [run.outcomes.get(s.name) or SessionOutcome(s.name, "pending", reason="not run (--fail-fast)")
                for s in sessions]
    counts = {k: sum(o.status == k for o in outcomes) for k in STATUSES + ("pending",)}
    seconds = time.perf_counter() - t_start
    timings["driver_overhead_s"] = (timings["discovery_s"] + timings["fingerprint_s"] + timings["preflight_s"]
                                    + run.overhead_s)
    result = BatchResult(exit_code=exit_code, run_id=run_id, in_dir=plan.in_abs, out_dir=plan.out_abs,
                         sessions=outcomes, notes=notes, problems=problems, counts=counts, seconds=seconds,
                         timings={k: round(v, 4) for k, v in timings.items()}, interrupted_by=interrupted_by)
    try:
        write_json_atomic(result.summary_path, {
            "schema": SUMMARY_SCHEMA, "run": run_id, "in_dir": plan.in_abs, "out_dir": plan.out_abs,
            "style": plan.base_style.name, "backend": plan.backend, "scheduler": plan.scheduler, "jobs": plan.jobs,
            "started": started, "finished": utc_now(), "seconds": round(seconds, 3), "exit_code": exit_code,
            "interrupted_by": interrupted_by, "counts": counts, "sessions": [asdict(o) for o in outcomes],
            "problems": problems, "notes": notes, "timings": result.timings,
            **({"album": plan.album_info} if plan.album_info is not None else {}),
        })
        ledger.append("end", counts=counts, exit_code=exit_code, seconds=round(seconds, 3))
    except (OSError, AutomixError) as e:
        raise InfrastructureError(f"{plan.out_abs}: cannot write the summary ({e})") from None
    if plan.html:
        t_html = time.perf_counter()
        try:
            from automix.pages import write_batch_html

            write_batch_html(plan.out_abs)
        except (OSError, AutomixError) as e:  # the pages are a view of the outputs: `automix report` redoes them
            notes.append(f"the browser pages were not written ({e}); run automix report {plan.out_abs}")
        result.timings["html_s"] = round(time.perf_counter() - t_html, 4)
    if reporter:
        reporter.finished(result)
    return result


def _dispatch(plan: _Plan, tasks: list[dict], run: _Run, ledger: Ledger) -> list[dict]:
    """Run the tasks on an executor; returns the ones a signal left unfinished."""
    from automix.batch.executors import make_executor

    executor = None
    if run.stopped():
        return tasks
    try:
        try:
            executor = make_executor(plan.backend, plan.jobs, scheduler=plan.scheduler, retries=plan.retries,
                                     timeout=plan.timeout, connect_timeout=plan.connect_timeout)
            if run.stopped():
                return tasks
            executor.preflight(plan.in_abs, plan.out_abs, tasks[0].stems[0] if tasks[0].stems else None)
        except InfrastructureError as e:
            ledger.append("end", counts={}, exit_code=EXIT_INTERNAL, seconds=None, error=str(e))
            raise
        return executor.run(tasks, run)
    finally:
        if executor is not None:
            executor.close()

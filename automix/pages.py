"""The browser views of automix's outputs: the data each page shows and the self-contained HTML that holds it.

Two kinds of page, one app (the React bundle in ``automix/web``, built from ``ui/``):

- a **session page** from one mix's outputs: the report (``X.report.json`` of ``automix mix``, or a batch
  session's ``report.json``), its settings and its views file (:mod:`automix.views`);
- a **batch page** (the dashboard) from a ``batch --out`` folder: one row per session from the ledger and each
  session's report.

:func:`session_page` and :func:`batch_page` build the page data (schema :data:`PAGE_SCHEMA`, plain JSON; what
the app draws and nothing it must compute from audio). A file that is missing, truncated or of another schema
does not stop a page: the page says what is wrong in one sentence (``problems``) and shows what it can.
:func:`render_html` inlines the bundle and the data into one HTML file that opens from disk with no network;
:func:`write_pages` writes ``report.html`` per session (``X.report.html`` beside ``automix mix``'s outputs) and
``index.html`` for a batch. The local server (:mod:`automix.server`) serves the same pages.
"""
from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from automix.errors import UsageError

PAGE_SCHEMA = "automix.page/1"
#: the schemas a page reads (a report of another schema is shown as far as its fields match, with a problem)
REPORT_SCHEMA = "automix.report/1"
BATCH_REPORT_SCHEMA = "automix.batch.report/1"
SUMMARY_SCHEMA = "automix.batch.summary/1"
VIEWS_SCHEMA = "automix.views/1"
SETTINGS_SCHEMA = "automix.settings/1"

_WEB_DIR = Path(__file__).with_name("web")
_TARGETS = ("integrated_lufs", "true_peak_dbtp", "spectral_centroid_hz", "ms_ratio", "band_balance")


@dataclass(frozen=True)
class SessionFiles:
    """Where one mix's outputs are: the report and its sidecars (any may be missing)."""

    report: Path
    settings: Path
    views: Path
    html: Path

    @classmethod
    def for_report(cls, report: Path) -> "SessionFiles":
        """``X.report.json`` -> ``X.settings.json``, ``X.views.json``, ``X.report.html``; a batch session's
        ``report.json`` -> ``settings.json``, ``views.json``, ``report.html`` in its folder."""
        name = report.name
        stem = name[: -len("report.json")] if name.endswith("report.json") else report.stem + "."
        return cls(report, report.with_name(stem + "settings.json"), report.with_name(stem + "views.json"),
                   report.with_name(stem + "report.html"))


def _read_json(path: Path, what: str, problems: list[str]) -> dict | None:
    """The JSON object at ``path``, or ``None`` with a sentence in ``problems``."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        problems.append(f"{path.name} is missing: the {what} is not shown; re-run the mix to write it.")
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        kind = "truncated or not JSON" if isinstance(e, (json.JSONDecodeError, UnicodeDecodeError)) else str(e)
        problems.append(f"{path.name} cannot be read ({kind}): the {what} is not shown; re-run the mix to rewrite it.")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name} is not a JSON object: the {what} is not shown; re-run the mix to rewrite it.")
        return None
    return data


def _check_schema(data: dict | None, want: str, path: Path, problems: list[str]) -> dict | None:
    if data is None:
        return None
    if data.get("schema") != want:
        problems.append(f"{path.name} has schema {data.get('schema')!r}, this automix reads {want!r}: "
                        "what matches is shown; re-run the mix with this version for the full view.")
    return data


def _rel(target: str | os.PathLike | None, base: Path) -> str | None:
    """``target`` relative to folder ``base`` with forward slashes (a link in a page), if it exists."""
    if not target or not os.path.exists(target):
        return None
    return Path(os.path.relpath(target, base)).as_posix()


#: how a page names each export kind (:data:`automix.export.KINDS`)
EXPORT_LABELS = {"stems": "printed stems", "dawproject": "DAWproject", "reaper": "REAPER project",
                 "csv": "settings table (CSV)"}


def _export_links(batch: dict | None, base: Path, link: Callable[[Path], str | None]) -> list[dict]:
    """``[{kind, label, href}]`` of the exports a batch session's report records (``outputs`` keyed
    ``kind:path``) that are still there; printed stems link their folder."""
    seen, out = set(), []
    for key, rec in ((batch or {}).get("outputs") or {}).items():
        kind, _, rel = str(key).partition(":")
        if not rel or kind in seen or kind not in EXPORT_LABELS:
            continue
        target = base / rel
        href = link(target.parent if kind == "stems" else target)
        if href:
            seen.add(kind)
            out.append({"kind": kind, "label": EXPORT_LABELS[kind], "href": href})
    return out


def _bands() -> dict:
    from automix.meters.spectral import BAND_EDGES_HZ

    lo, hi = BAND_EDGES_HZ
    return {"low": [None, lo], "mid": [lo, hi], "high": [hi, None]}


def session_page(report_path: str | os.PathLike, *, dashboard: str | None = None,
                 link: Callable[[Path], str | None] | None = None) -> dict:
    """The session page's data for the report at ``report_path``.

    Args:
        report_path: ``X.report.json`` (``automix mix``) or a batch session's ``report.json``.
        dashboard: the link back to the batch page, if any.
        link: how a page links to a file (default: relative to the report's folder, for a page on disk).

    Returns:
        ``{"schema", "kind": "session", "title", "status", "code", "reason", "report", "batch", "settings",
        "views", "style", "bands", "problems", "links"}``; ``report`` is the mix report (``None`` when the
        session failed or the report is unreadable), ``batch`` the batch record around it (without ``mix``).
    """
    files = SessionFiles.for_report(Path(report_path))
    base = files.report.parent
    link = link or (lambda p: _rel(p, base))
    problems: list[str] = []
    data = _read_json(files.report, "report", problems)
    batch = None
    report = data
    if data is not None and data.get("schema") == BATCH_REPORT_SCHEMA:
        batch = {k: v for k, v in data.items() if k != "mix"}
        report = data.get("mix")
    else:
        _check_schema(data, REPORT_SCHEMA, files.report, problems)
    status = (batch or report or {}).get("status", "unknown")
    code = batch.get("code") if batch else None
    reason = batch.get("reason") if batch else None
    if report is None and data is not None and status in ("ok", "missed"):
        problems.append(f"{files.report.name} holds no mix report: re-run the session.")
    settings = views = None
    if report is not None:
        settings = _check_schema(_read_json(files.settings, "mixer (settings)", problems), SETTINGS_SCHEMA,
                                 files.settings, problems)
        views = _check_schema(_read_json(files.views, "loudness, spectrum and EQ curves (views file)", problems),
                              VIEWS_SCHEMA, files.views, problems)
    output = (report or {}).get("output")
    if output:
        # the folder may have moved since the mix: the file beside the report wins over the recorded path
        beside = base / Path(output).name
        output = beside if beside.is_file() else Path(output) if os.path.isfile(output) else None
        if output is None:
            problems.append(f"the mix {Path(report['output']).name} is not beside its report: nothing to play.")
    title = (batch or {}).get("session") or files.report.name[: -len(".report.json")] or base.name
    return {
        "schema": PAGE_SCHEMA, "kind": "session", "title": title, "status": status, "code": code, "reason": reason,
        "report": report, "batch": batch, "settings": settings, "views": views, "bands": _bands(),
        "problems": problems,
        "links": {"audio": link(output) if output else None,
                  "report": link(files.report), "settings": link(files.settings) if settings else None,
                  "views": link(files.views) if views else None, "dashboard": dashboard,
                  "exports": _export_links(batch, base, link)},
    }


def _target_errors(report: dict | None) -> dict | None:
    """Each target's signed error, pass and hardness for a dashboard row (balance: the largest band error)."""
    if not report or not isinstance(report.get("targets"), dict):
        return None
    out = {}
    for name in _TARGETS:
        t = report["targets"].get(name)
        if not isinstance(t, dict):
            continue
        err = t.get("error_rel", t.get("error"))
        if isinstance(err, dict):
            err = max(err.values(), key=abs) if err else None
        out[name] = {"error": err, "pass": t.get("pass"), "hard": t.get("hard")}
    return out


def _batch_running(out_dir: Path, events: list[dict]) -> bool:
    """The latest run in the ledger has not ended and still holds the folder's lock."""
    last_start = max((i for i, e in enumerate(events) if e.get("event") == "start"), default=None)
    if last_start is None or any(e.get("event") == "end" for e in events[last_start:]):
        return False
    try:
        fd = os.open(out_dir / ".automix" / "lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True  # the runner holds it
    finally:
        os.close(fd)
    return False  # started and never ended: killed


def is_batch_dir(path: Path) -> bool:
    return (path / "ledger.jsonl").is_file() or (path / "summary.json").is_file()


def batch_page(out_dir: str | os.PathLike, *, href: Callable[[str], str] | None = None,
               live: dict | None = None) -> dict:
    """The dashboard's data for a ``batch --out`` folder.

    Rows come from the ledger (the latest outcome of each session, so a running batch shows what has finished)
    and each session's ``report.json``; the totals from ``summary.json`` when the batch has ended.

    Args:
        out_dir: the batch's output folder.
        href: a session's link from its name (default ``NAME/report.html``, for pages on disk).
        live: where the app polls for fresh data while the batch runs (served pages only).
    """
    from automix.batch.ledger import read_ledger

    out = Path(out_dir)
    href = href or (lambda name: f"{name}/report.html")
    problems: list[str] = []
    events = list(read_ledger(out / "ledger.jsonl")) if (out / "ledger.jsonl").is_file() else []
    summary = _read_json(out / "summary.json", "batch summary", []) if (out / "summary.json").is_file() else None
    if summary is not None and summary.get("schema") != SUMMARY_SCHEMA:
        problems.append(f"summary.json has schema {summary.get('schema')!r}, this automix reads {SUMMARY_SCHEMA!r}.")
    running = _batch_running(out, events)
    latest: dict[str, dict] = {}
    for e in events:
        if e.get("event") in ("result", "skipped", "crash") and e.get("session"):
            latest[e["session"]] = e
    if summary is not None and not running:
        for s in summary.get("sessions", []):
            latest.setdefault(s.get("session"), s)
    if not events and summary is None:
        problems.append(f"{out} has no ledger.jsonl or summary.json: not a batch's output folder.")
    rows = []
    records: dict[str, dict | None] = {}
    for name in sorted(latest):
        event = latest[name]
        rdir = out / name
        problems_row: list[str] = []
        record = _read_json(rdir / "report.json", "report", problems_row) if (rdir / "report.json").is_file() else None
        records[name] = record
        mix = record.get("mix") if record else None
        status = (record or event).get("status") or ("skipped" if event.get("event") == "skipped" else "unknown")
        rows.append({
            "session": name, "status": status,
            "code": (record or event).get("code"), "reason": (record or event).get("reason") or event.get("detail"),
            "seconds": (record or event).get("seconds"),
            "render_s": ((mix or {}).get("timings") or {}).get("total_s"),
            "duration_s": (mix or {}).get("duration_s"),
            "soft_missed": [n for n, t in ((mix or {}).get("targets") or {}).items()
                            if isinstance(t, dict) and not t.get("hard") and not t.get("pass")],
            "warnings": len((mix or {}).get("warnings") or (record or {}).get("warnings") or []),
            "targets": _target_errors(mix),
            "reference_distance_db": (((mix or {}).get("reference") or {}).get("spectrum") or {}).get("distance_db"),
            "href": href(name) if (rdir / "report.json").is_file() else None,
        })
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    start = next((e for e in reversed(events) if e.get("event") == "start"), None)
    run = {k: (summary or start or {}).get(k) for k in ("run", "in_dir", "out_dir", "style", "backend", "jobs",
                                                         "started", "finished", "seconds", "exit_code")}
    if start is not None and run.get("started") is None:
        run["started"] = start.get("time")
    album = None
    if summary is not None and isinstance(summary.get("album"), dict):
        album = _album_block(summary["album"], records)
    return {"schema": PAGE_SCHEMA, "kind": "batch", "title": out.resolve().name, "running": running,
            "total": (start or {}).get("sessions", len(rows)), "run": run, "counts": counts, "rows": rows,
            "problems": problems, "live": live, "album": album}


def _album_block(info: dict, records: dict[str, dict | None]) -> dict:
    """The album view's data: each track's intended offset and target beside its final meters (from the session
    reports the dashboard read), and the spread."""
    from automix.album import album_summary

    tracks = []
    for t in info.get("tracks") or []:
        mix = (records.get(t["session"]) or {}).get("mix") or {}
        final = mix.get("final_meters")
        tracks.append({**t, "final": {k: final.get(k) for k in ("integrated_lufs", "spectral_centroid_hz", "ms_ratio",
                                                                 "loudness_range_lu")} if final else None})
    return {"style": info.get("style"), "anchor_lufs": info.get("anchor_lufs"), **album_summary(tracks)}


def error_page(message: str) -> dict:
    """A page that only says what is wrong."""
    return {"schema": PAGE_SCHEMA, "kind": "error", "title": "automix", "problems": [message]}


def bundle() -> tuple[str, str]:
    """The built app: ``(javascript, css)`` from ``automix/web``."""
    try:
        js = (_WEB_DIR / "app.js").read_text(encoding="utf-8")
        css = (_WEB_DIR / "app.css").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{_WEB_DIR}: the browser app's bundle is missing; reinstall automix "
                         "(or build it from ui/ with python ui/build.py)") from None
    return js, css


def _script_safe(text: str) -> str:
    """Text that cannot close the ``<script>`` element it is inlined in."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render_html(page: dict) -> str:
    """One self-contained HTML document: the app, its styles and ``page`` inlined (no network, opens from disk)."""
    import html

    js, css = bundle()
    data = json.dumps(page, separators=(",", ":"), allow_nan=False)
    title = html.escape(f"{page.get('title', 'automix')} · automix")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{title}</title><style>{css}</style></head><body><div id=\"root\"></div>"
            f"<script type=\"application/json\" id=\"automix-page\">{_script_safe(data)}</script>"
            f"<script type=\"module\">{_script_safe(js)}</script></body></html>\n")


def _write(path: Path, page: dict) -> str:
    from automix.audio_io import write_text_atomic

    write_text_atomic(path, render_html(page))
    return str(path)


def write_session_html(report_path: str | os.PathLike, *, dashboard: str | None = None) -> str:
    """Write the session page beside its report (``X.report.html`` or ``report.html``); returns its path."""
    files = SessionFiles.for_report(Path(report_path))
    return _write(files.html, session_page(files.report, dashboard=dashboard))


def write_batch_html(out_dir: str | os.PathLike) -> list[str]:
    """Write ``index.html`` and every session's ``report.html`` in a batch's output folder; returns the paths."""
    out = Path(out_dir)
    page = batch_page(out)
    written = [_write(out / "index.html", page)]
    for row in page["rows"]:
        if row["href"] is not None:
            written.append(write_session_html(out / row["session"] / "report.json", dashboard="../index.html"))
    return written


def find_reports(path: Path) -> list[Path]:
    """The mix reports in a folder of ``automix mix`` outputs (``*.report.json``)."""
    return sorted(p for p in path.glob("*.report.json") if p.is_file())


def write_pages(path: str | os.PathLike) -> list[str]:
    """``automix report PATH``: write the pages for a batch folder, a session's outputs or one report.

    Raises:
        UsageError: ``path`` is none of these (the message says what it expected).
    """
    p = Path(path)
    if p.is_file() and p.name.endswith("report.json"):
        return [write_session_html(p)]
    if p.is_dir():
        if is_batch_dir(p):
            return write_batch_html(p)
        if (p / "report.json").is_file():
            return [write_session_html(p / "report.json")]
        reports = find_reports(p)
        if reports:
            return [write_session_html(r) for r in reports]
    if not p.exists():
        raise UsageError(f"{p}: does not exist; give a batch --out folder, a session's outputs or an X.report.json")
    raise UsageError(f"{p}: not a session's or a batch's output (no report.json, *.report.json, ledger.jsonl or "
                     "summary.json); give the folder automix mix or automix batch wrote")

"""Batch runner: discovery, the bad-input zoo, resume, crashes, timeouts, signals, kill -9, exit codes.

Sessions are rendered by :func:`automix.batch.testing.scripted_process` (a real
streaming sum through the stem reader and the atomic writer, plus scripted
misbehaviour from a ``fake.json`` in the session folder), so these tests
exercise the runner, not the mixer. Stems are 1-2 s long.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from automix.discovery import discover_sessions
from automix.errors import UsageError, InfrastructureError
from automix.batch.ledger import read_ledger
from automix.batch.runner import run_batch

SR = 44100
PROCESS = "automix.batch.testing:scripted_process"
REPO = Path(__file__).resolve().parents[1]
TARGETS_YAML = """\
lufs: -14
spectral_centroid_hz: 2500
stereo_ms_ratio: 0.5
frequency_balance: {low: 0.3, mid: 0.5, high: 0.2}
"""


# ------------------------------------------------------------------ helpers --

def tone(seconds=1.5, sr=SR, freq=220.0, amp=0.3, channels=2) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * freq * t)
    return np.stack([x * (1 - 0.1 * c) for c in range(channels)]).astype(np.float32)


def wav(path, data=None, sr=SR, subtype="PCM_24", fmt=None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = tone() if data is None else data
    sf.write(str(path), np.asarray(data).T, sr, subtype=subtype, format=fmt)
    return path


def session(root: Path, name: str, n: int = 2, seconds: float = 1.5, script: dict | None = None) -> Path:
    folder = root / name
    for k in range(n):
        wav(folder / f"stem {k}.wav", tone(seconds, freq=110.0 * (k + 2)))
    if script is not None:
        (folder / "fake.json").write_text(json.dumps(script))
    return folder


@pytest.fixture
def targets(tmp_path) -> str:
    p = tmp_path / "targets.yaml"
    p.write_text(TARGETS_YAML)
    return str(p)


def run(in_dir, out_dir, targets, **kw):
    kw.setdefault("jobs", 2)
    kw.setdefault("process", PROCESS)
    kw.setdefault("handle_signals", False)
    return run_batch(in_dir, out_dir, targets=targets, **kw)


def report(out: Path, name: str) -> dict:
    return json.loads((out / name / "report.json").read_text())


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder`` (links not followed) with size and mtime: to prove nothing was written."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            out[os.path.relpath(p, folder)] = (st.st_size, st.st_mtime_ns)
    return out


def partials(out: Path) -> list[str]:
    return [str(p) for p in out.rglob("*") if ".partial" in p.name]


def statuses(result) -> dict:
    return {o.session: (o.status, o.code) for o in result.sessions}


# -------------------------------------------------------------- the zoo --

def build_zoo(root: Path, outside: Path) -> dict:
    """One IN_DIR holding every kind of bad input; returns {session: (status, code)} expected."""
    expect = {}

    def good(folder):
        return wav(root / folder / "good.wav")

    good("zero byte")
    (root / "zero byte" / "empty.wav").write_bytes(b"")
    expect["zero byte"] = ("failed", "E_EMPTY")

    good("text named wav")
    (root / "text named wav" / "notes.wav").write_text("these are my notes, not audio\n" * 20)
    expect["text named wav"] = ("failed", "E_UNREADABLE")

    good("truncated")
    p = wav(root / "truncated" / "cut.wav")
    with open(p, "r+b") as f:
        f.truncate(p.stat().st_size // 2)
    expect["truncated"] = ("failed", "E_TRUNCATED")

    good("header only")
    p = wav(root / "header only" / "head.wav")
    with open(p, "r+b") as f:
        f.truncate(44)
    expect["header only"] = ("failed", "E_EMPTY")

    good("zero frames")
    wav(root / "zero frames" / "none.wav", np.zeros((2, 0), np.float32))
    expect["zero frames"] = ("failed", "E_EMPTY")

    good("one sample")
    wav(root / "one sample" / "tick.wav", np.full((2, 1), 0.5, np.float32))
    expect["one sample"] = ("failed", "E_TOO_SHORT")

    good("nan float")
    x = tone()
    x[0, 1000] = np.nan
    x[1, 2000] = np.inf
    wav(root / "nan float" / "bad.wav", x, subtype="FLOAT")
    expect["nan float"] = ("failed", "E_NONFINITE")

    wav(root / "all silent" / "a.wav", np.zeros((2, SR), np.float32))
    wav(root / "all silent" / "b.wav", np.zeros((1, SR), np.float32))
    expect["all silent"] = ("failed", "E_SILENT")

    (root / "empty folder").mkdir()
    (root / "only junk" / ".DS_Store").parent.mkdir()
    (root / "only junk" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "only junk" / "readme.txt").write_text("hi")

    good("single stem")
    expect["single stem"] = ("ok", None)

    wav(root / "mixed rates" / "a44.wav", tone(1.5, 44100), 44100)
    wav(root / "mixed rates" / "b48.wav", tone(1.5, 48000), 48000)
    wav(root / "mixed rates" / "c48.wav", tone(1.5, 48000, 330), 48000)
    expect["mixed rates"] = ("ok", None)

    wav(root / "lengths" / "short.wav", tone(1.0))
    wav(root / "lengths" / "long.wav", tone(4.0, freq=330))
    expect["lengths"] = ("ok", None)

    good("six channels")
    wav(root / "six channels" / "surround.wav", tone(1.5, channels=6))
    expect["six channels"] = ("failed", "E_CHANNELS")

    wav(root / "formats" / "u8.wav", tone(), subtype="PCM_U8")
    wav(root / "formats" / "int32.wav", tone(freq=330), subtype="PCM_32")
    wav(root / "formats" / "double.wav", tone(freq=440), subtype="DOUBLE")
    wav(root / "formats" / "rf64.wav", tone(freq=550), fmt="RF64")
    wav(root / "formats" / "extensible.wav", tone(freq=660), fmt="WAVEX")
    expect["formats"] = ("ok", None)

    wav(root / "dc offset" / "dc.wav", tone() + 0.2)
    good("dc offset")
    expect["dc offset"] = ("ok", None)

    wav(root / "cancel" / "a.wav", tone())
    wav(root / "cancel" / "b.wav", -tone())
    expect["cancel"] = ("failed", "E_SILENT")

    square = np.sign(np.sin(2 * np.pi * 100 * np.arange(int(1.5 * SR)) / SR)).astype(np.float32)
    wav(root / "hot" / "square.wav", np.stack([square, square]) * 0.99997, subtype="PCM_16")
    wav(root / "hot" / "float over.wav", tone(amp=2.0), subtype="FLOAT")
    expect["hot"] = ("ok", None)

    name = "Ünïcödé 🎵 séssion"
    wav(root / name / "lead vöx 🎤.wav")
    wav(root / name / "bass with spaces.wav", tone(freq=55))
    expect[name] = ("ok", None)

    wav(root / "loops" / "stems" / "good.wav")  # stems only in a nested folder full of loops
    os.symlink("self", root / "loops" / "stems" / "self")
    os.symlink("..", root / "loops" / "stems" / "up")
    os.symlink(str(root), root / "loops" / "stems" / "top")
    expect["loops"] = ("ok", None)

    good("outside link")
    os.symlink(str(outside / "external.wav"), root / "outside link" / "external.wav")
    expect["outside link"] = ("ok", None)
    os.symlink(str(outside), root / "linked session")  # a whole session folder outside IN_DIR

    good("dangling")
    os.symlink(str(root / "dangling" / "gone.wav"), root / "dangling" / "missing.wav")
    os.symlink("nowhere", root / "dangling" / "not audio")
    expect["dangling"] = ("failed", "E_MISSING")

    wav(root / "nested" / "stems" / "kick.wav")
    wav(root / "nested" / "stems" / "snare.wav", tone(freq=330))
    expect["nested"] = ("ok", None)

    wav(root / "lossy" / "a.mp3", tone(1.5), subtype="MPEG_LAYER_III", fmt="MP3")
    wav(root / "lossy" / "b.ogg", tone(1.5, freq=330), subtype="VORBIS", fmt="OGG")
    expect["lossy"] = ("ok", None)

    good("junk")
    (root / "junk" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "junk" / "._good.wav").write_bytes(b"\0\5\26\7" + b"\0" * 100)
    (root / "junk" / "cover.jpg").write_bytes(b"\xff\xd8\xff")
    expect["junk"] = ("ok", None)

    wav(root / "UPPER" / "KICK.WAV")
    wav(root / "UPPER" / "SNARE.AIF", tone(freq=330), fmt="AIFF")
    expect["UPPER"] = ("ok", None)

    good("bad config")
    (root / "bad config" / "automix.yaml").write_text("style: x\nloudness: -9\n")
    expect["bad config"] = ("failed", "E_CONFIG")

    good("roles")
    (root / "roles" / "automix.yaml").write_text("roles:\n  good.wav: vocal\n")
    expect["roles"] = ("ok", None)

    wav(root / "flac" / "x.flac", tone(), subtype="PCM_16", fmt="FLAC")
    expect["flac"] = ("ok", None)
    return expect


def test_bad_input_zoo(tmp_path, targets):
    root, out, outside = tmp_path / "in", tmp_path / "out", tmp_path / "outside"
    wav(outside / "external.wav")
    wav(outside / "x.wav")
    expect = build_zoo(root, outside)
    before = snapshot(root)
    t0 = time.monotonic()
    result = run(root, out, targets)
    assert time.monotonic() - t0 < 60
    assert result.exit_code == 1
    assert statuses(result) == expect
    # every session explained: a report with its status and code, one-line reason for failures
    for name, (status, code) in expect.items():
        r = report(out, name)
        assert (r["status"], r["code"]) == (status, code), name
        if status == "failed":
            assert r["reason"] and "\n" not in r["reason"]
            assert not (out / name / "mix.wav").exists()
        else:
            info = sf.info(str(out / name / "mix.wav"))
            assert info.subtype == "PCM_24" and info.channels == 2
    # stems decoded, resampled, padded as documented
    assert sf.info(str(out / "lengths" / "mix.wav")).frames == 4 * SR
    assert sf.info(str(out / "mixed rates" / "mix.wav")).samplerate == 48000
    assert sf.info(str(out / "lossy" / "mix.wav")).frames == pytest.approx(1.5 * SR, abs=1200)
    warnings = {n: " ".join(report(out, n)["warnings"]) for n in expect}
    assert "resampled" in warnings["mixed rates"]
    assert "padded" in warnings["lengths"]
    assert "nested folder" in warnings["nested"]
    assert "lossy" in warnings["lossy"]
    assert "+6.02 dBFS" in warnings["hot"]
    assert "DC offset" in warnings["dc offset"]
    assert "leaving the input folder" in warnings["outside link"]
    # stems actually used
    assert len(report(out, "outside link")["inputs"]) == 1
    assert len(report(out, "formats")["inputs"]) == 5
    assert len(report(out, "UPPER")["inputs"]) == 2
    assert len(report(out, "junk")["inputs"]) == 1
    assert json.loads((out / "roles" / "settings.json").read_text())["roles"] == {"good.wav": "vocal"}
    # things that are not sessions are noted, never rendered
    notes = " | ".join(result.notes)
    for text in ("empty folder: no audio files", "only junk: no audio files", "linked session: symbolic link "
                 "leaving the input folder", "._good.wav", "symbolic link loop"):
        assert text in notes
    assert not (out / "empty folder").exists() and not (out / "linked session").exists()
    # up-front pass listed every unusable stem before rendering
    assert len(result.problems) == 9
    # nothing written inside IN_DIR; no temp files left
    assert snapshot(root) == before
    assert partials(out) == []
    # ledger: start, one result per session, end; summary agrees
    events = list(read_ledger(out / "ledger.jsonl"))
    assert [e["event"] for e in events][0] == "start" and events[-1]["event"] == "end"
    assert sorted(e["session"] for e in events if e["event"] == "result") == sorted(expect)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["ok"] == sum(s == "ok" for s, _ in expect.values())
    assert summary["exit_code"] == 1

    # --follow-links brings in the link leaving IN_DIR and the linked session folder
    result = run(root, tmp_path / "out2", targets, follow_links=True)
    assert statuses(result)["linked session"] == ("ok", None)
    assert len(report(tmp_path / "out2", "outside link")["inputs"]) == 2


# ------------------------------------------------------------- discovery --

def test_in_dir_with_audio_is_one_session(tmp_path, targets):
    folder = session(tmp_path, "My Song", 3)
    (folder / "sub").mkdir()
    d = discover_sessions(folder)
    assert [s.name for s in d.sessions] == ["My Song"] and len(d.sessions[0].stems) == 3
    result = run(folder, tmp_path / "out", targets)
    assert statuses(result) == {"My Song": ("ok", None)}
    assert (tmp_path / "out" / "My Song" / "mix.wav").exists()


def test_loose_audio_next_to_sessions_is_noted(tmp_path):
    session(tmp_path / "in", "a")
    wav(tmp_path / "in" / "loose.wav")
    d = discover_sessions(tmp_path / "in")
    assert [s.name for s in d.sessions] == ["a"]
    assert any("loose audio" in n and "loose.wav" in n for n in d.notes)


def test_link_to_another_session_is_not_rendered_twice(tmp_path):
    session(tmp_path / "in", "a")
    os.symlink(tmp_path / "in" / "a", tmp_path / "in" / "b alias")
    d = discover_sessions(tmp_path / "in")
    assert [s.name for s in d.sessions] == ["a"]
    assert any("b alias" in n and "already visited" in n for n in d.notes)


def test_session_config_overrides_style_targets_and_roles(tmp_path, targets):
    root, out = tmp_path / "in", tmp_path / "out"
    two = tmp_path / "two.yaml"
    base = {"spectral_centroid_hz": 2500, "stereo_ms_ratio": 0.5,
            "frequency_balance": {"low": 0.3, "mid": 0.5, "high": 0.2}}
    two.write_text(json.dumps({"soft": {"lufs": -16, **base}, "loud": {"lufs": -9, **base}}))
    for name in ("default", "by name", "own file", "unknown style"):
        session(root, name)
    (root / "by name" / "automix.yaml").write_text("style: loud\nroles:\n  stem 0.wav: bass\n")
    (root / "own file" / "mine.yaml").write_text(TARGETS_YAML.replace("-14", "-11"))
    (root / "own file" / "automix.yaml").write_text("targets: mine.yaml\n")
    (root / "unknown style" / "automix.yaml").write_text("style: nope\n")
    result = run_batch(root, out, style="soft", targets=str(two), jobs=2, process=PROCESS, handle_signals=False)
    assert statuses(result) == {"default": ("ok", None), "by name": ("ok", None), "own file": ("ok", None),
                                "unknown style": ("failed", "E_STYLE")}
    assert report(out, "default")["style"] == "soft"
    assert report(out, "by name")["style"] == "loud"
    assert report(out, "own file")["style"] == "mine"
    assert json.loads((out / "by name" / "settings.json").read_text())["roles"] == {"stem 0.wav": "bass"}
    fps = {n: report(out, n)["style_fingerprint"] for n in ("default", "by name", "own file")}
    assert len(set(fps.values())) == 3
    assert "nope" in report(out, "unknown style")["reason"]


def test_console_reporter_lines_and_bar():
    import io

    from automix.batch.progress import ConsoleReporter
    from automix.batch.runner import SessionOutcome

    lines = io.StringIO()
    r = ConsoleReporter(lines, bar=False)
    r.started(2, ["x: skipped 1 non-audio file (a.txt)"])
    r.session_done(SessionOutcome("a", "ok", seconds=1.25), 1, 2)
    r.session_done(SessionOutcome("b\udcff", "failed", "E_EMPTY", "b/x.wav: file is empty"), 2, 2)
    text = lines.getvalue()
    assert "note: x: skipped" in text and "[1/2] a: ok 1.2s" in text
    assert "[2/2] b\\udcff: FAILED E_EMPTY: b/x.wav: file is empty" in text and "\r" not in text
    bar = io.StringIO()
    r = ConsoleReporter(bar, bar=True)
    r.started(2, [])
    r.session_done(SessionOutcome("a", "ok", seconds=1.0), 1, 2)
    assert "\r" in bar.getvalue() and "1/2" in bar.getvalue() and "#" * 15 in bar.getvalue()
    assert " left" in bar.getvalue()  # an estimate from the pace of the rendered sessions


def test_console_reporter_shows_warnings_and_quiet_shows_only_problems():
    import io

    from automix.batch.progress import ConsoleReporter
    from automix.batch.runner import SessionOutcome

    warned = SessionOutcome("a", "ok", seconds=1.0, warnings=1,
                            warning_lines=["a/bass.wav: 48000 Hz resampled to the session rate 44100 Hz"])
    for quiet in (False, True):
        out = io.StringIO()
        r = ConsoleReporter(out, bar=False, quiet=quiet)
        r.started(3, [])
        r.session_done(warned, 1, 3)
        r.session_done(SessionOutcome("b", "ok", seconds=1.0), 2, 3)
        r.session_done(SessionOutcome("c", "failed", "E_EMPTY", "c/x.wav: file is empty"), 3, 3)
        text = out.getvalue()
        assert "a: warning: a/bass.wav: 48000 Hz resampled" in text
        assert "c: FAILED E_EMPTY" in text
        assert ("b: ok" in text) is (not quiet) and ("3 sessions found" in text) is (not quiet)


def test_output_inside_input_is_refused_before_any_work(tmp_path, targets):
    session(tmp_path / "in", "a")
    with pytest.raises(UsageError, match="inside the input folder"):
        run(tmp_path / "in", tmp_path / "in" / "out", targets)
    assert not (tmp_path / "in" / "out").exists()
    # a single-session IN_DIR whose output folder would be IN_DIR itself
    with pytest.raises(UsageError, match="inside the input folder"):
        run(tmp_path / "in" / "a", tmp_path / "in", targets)


# ---------------------------------------------------------------- resume --

def test_resume_skips_done_redoes_changed_failed_and_missing(tmp_path, targets):
    root, out = tmp_path / "in", tmp_path / "out"
    for name in "abc":
        session(root, name)
    wav(root / "bad" / "x.wav")
    (root / "bad" / "y.wav").write_bytes(b"")
    first = run(root, out, targets)
    assert first.exit_code == 1 and first.counts["ok"] == 3 and first.counts["failed"] == 1
    mtimes = {n: (out / n / "mix.wav").stat().st_mtime_ns for n in "abc"}

    again = run(root, out, targets)
    assert statuses(again) == {"a": ("skipped", None), "b": ("skipped", None), "c": ("skipped", None),
                               "bad": ("failed", "E_EMPTY")}
    assert {n: (out / n / "mix.wav").stat().st_mtime_ns for n in "abc"} == mtimes
    assert [e["session"] for e in read_ledger(out / "ledger.jsonl") if e["event"] == "skipped"] == ["a", "b", "c"]

    # change an input (mtime), delete an output, fix the bad session
    stem = root / "a" / "stem 0.wav"
    os.utime(stem, ns=(stem.stat().st_atime_ns, stem.stat().st_mtime_ns + 10**9))
    (out / "b" / "mix.wav").unlink()
    (root / "bad" / "y.wav").unlink()
    third = run(root, out, targets)
    assert statuses(third) == {"a": ("ok", None), "b": ("ok", None), "c": ("skipped", None), "bad": ("ok", None)}
    assert third.exit_code == 0

    # a different style changes every fingerprint; --force redoes everything
    other = tmp_path / "other.yaml"
    other.write_text(TARGETS_YAML.replace("-14", "-10"))
    assert run(root, out, str(other)).counts["ok"] == 4
    assert run(root, out, str(other), force=True).counts["ok"] == 4
    assert run(root, out, str(other)).counts["skipped"] == 4


def test_leftover_temp_files_are_cleaned_and_lock_is_exclusive(tmp_path, targets):
    import fcntl

    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "a")
    (out / "a").mkdir(parents=True)
    (out / "a" / "mix.0123456789ab.partial.wav").write_bytes(b"RIFF")
    (out / "a" / "report.json.0123456789ab.partial").write_text("{")
    (out / "a" / "notes.partial.txt").write_text("not ours")
    result = run(root, out, targets)
    assert result.exit_code == 0
    assert sorted(p.name for p in (out / "a").iterdir()) == ["mix.wav", "notes.partial.txt", "report.html",
                                                              "report.json", "settings.json"]
    assert any("removed 2 temp file" in n for n in result.notes)
    fd = os.open(out / ".automix" / "lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InfrastructureError, match="another automix batch"):
            run(root, out, targets)
    finally:
        os.close(fd)


def test_fail_fast_stops_after_the_up_front_pass(tmp_path, targets):
    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "good")
    session(root, "bad")
    (root / "bad" / "z.wav").write_text("not audio")
    result = run(root, out, targets, fail_fast=True)
    assert result.exit_code == 2
    assert result.problems and "E_UNREADABLE" in result.problems[0]
    assert not (out / "good").exists() and not (out / "bad").exists()
    assert json.loads((out / "summary.json").read_text())["counts"]["pending"] == 2


# ------------------------------------------------------ failures of a session --

def test_process_errors_and_missed_targets(tmp_path, targets):
    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "boom", script={"raise": "bug in the mixer"})
    session(root, "missed", script={"missed": True})
    session(root, "fine")
    result = run(root, out, targets)
    assert statuses(result) == {"boom": ("failed", "E_INTERNAL"), "missed": ("missed", "E_TARGET_MISSED"),
                                "fine": ("ok", None)}
    assert "RuntimeError: bug in the mixer" in report(out, "boom")["reason"]
    assert "integrated_lufs" in report(out, "missed")["reason"]
    assert (out / "missed" / "mix.wav").exists()  # kept for listening
    assert result.exit_code == 1
    assert statuses(run(root, out, targets))["missed"] == ("missed", "E_TARGET_MISSED")  # redone, not skipped


def test_soft_misses_are_listed_without_failing_the_session(tmp_path, targets):
    from automix.batch.progress import summary_table

    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "dull", script={"soft_missed": ["band_balance", "spectral_centroid_hz"]})
    session(root, "hard", script={"missed": True, "soft_missed": ["ms_ratio"]})
    session(root, "fine")
    result = run(root, out, targets)
    assert result.exit_code == 1  # "hard" missed a hard target; a soft miss alone does not fail anything
    soft = {o.session: (o.status, o.soft_missed) for o in result.sessions}
    assert soft == {"dull": ("ok", ["band_balance", "spectral_centroid_hz"]), "hard": ("missed", ["ms_ratio"]),
                    "fine": ("ok", [])}
    summary = json.loads((out / "summary.json").read_text())
    assert {s["session"]: len(s["soft_missed"]) for s in summary["sessions"]} == {"dull": 2, "hard": 1, "fine": 0}
    ledger = {e["session"]: e["soft_missed"] for e in read_ledger(out / "ledger.jsonl") if e["event"] == "result"}
    assert ledger["hard"] == ["ms_ratio"] and ledger["fine"] == []
    table = summary_table(result)
    row = next(line for line in table.splitlines() if line.startswith("dull "))
    assert "soft miss: " in row and "balance" in row and "centroid" in row and "report.json says why" in row
    assert "hard target missed" in next(line for line in table.splitlines() if line.startswith("hard "))
    assert "(2 with a soft target missed)" in table


def test_stale_outputs_are_removed_when_a_session_now_fails(tmp_path, targets):
    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "a")
    assert run(root, out, targets).exit_code == 0
    (root / "a" / "stem 1.wav").write_bytes(b"")
    assert statuses(run(root, out, targets)) == {"a": ("failed", "E_EMPTY")}
    assert sorted(p.name for p in (out / "a").iterdir()) == ["report.html", "report.json"]


def test_crash_culprit_is_found_and_bystanders_complete(tmp_path, targets):
    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "segfault", script={"crash": "segv", "sleep": 0.3})
    session(root, "flaky", script={"crash": "abort", "crash_once": str(tmp_path / "flag"), "sleep": 0.3})
    session(root, "good 1", script={"sleep": 0.3})
    session(root, "good 2")
    t0 = time.monotonic()
    result = run(root, out, targets, retries=1)
    assert time.monotonic() - t0 < 40
    assert statuses(result) == {"segfault": ("crashed", "E_WORKER_CRASH"), "flaky": ("ok", None),
                                "good 1": ("ok", None), "good 2": ("ok", None)}
    r = report(out, "segfault")
    assert r["status"] == "crashed" and "SIGSEGV" in r["reason"] and "2 time(s)" in r["reason"]
    crashes = [e for e in read_ledger(out / "ledger.jsonl") if e["event"] == "crash"]
    assert sum(e["session"] == "segfault" and e["alone"] for e in crashes) == 2
    assert result.exit_code == 1


def test_timeout_stops_a_hung_session_only(tmp_path, targets):
    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "hang", script={"hang": True})
    session(root, "slow but fine", script={"sleep": 1.0})
    session(root, "fine")
    t0 = time.monotonic()
    result = run(root, out, targets, timeout=2.0)
    assert time.monotonic() - t0 < 30
    assert statuses(result) == {"hang": ("failed", "E_TIMEOUT"), "slow but fine": ("ok", None),
                                "fine": ("ok", None)}
    assert partials(out) == [] and not list((out / ".automix" / "running").iterdir())


def test_joblib_backend_of_the_caller_applies(tmp_path, targets):
    from joblib import parallel_config

    root = tmp_path / "in"
    session(root, "a")
    session(root, "b")
    with parallel_config(backend="threading"):
        result = run(root, tmp_path / "out", targets)
    assert result.exit_code == 0
    assert {report(tmp_path / "out", n)["worker"]["pid"] for n in "ab"} == {os.getpid()}


# ------------------------------------------------------- CLI, exit codes, signals --

def cli(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automix", "batch", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, **kw)


def test_cli_exit_codes(tmp_path, targets):
    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "a")
    ok = cli(root, "--out", out, "--targets", targets, "--jobs", 2, "--process", PROCESS)
    assert ok.returncode == 0, ok.stderr
    assert "1 session(s): 1 ok; exit 0" in ok.stdout

    (root / "b").mkdir()
    (root / "b" / "x.wav").write_bytes(b"")
    failed = cli(root, "--out", out, "--targets", targets, "--jobs", 2, "--process", PROCESS)
    assert failed.returncode == 1 and "E_EMPTY" in failed.stdout and "skipped" in failed.stdout

    style = cli(root, "--out", out, "--targets", targets, "--style", "no_such_style")
    assert style.returncode == 2 and "unknown style" in style.stderr and "Traceback" not in style.stderr

    (tmp_path / "file").write_text("x")
    unwritable = cli(root, "--out", tmp_path / "file" / "out", "--targets", targets, "--process", PROCESS)
    assert unwritable.returncode == 3 and "cannot be created or written" in unwritable.stderr


def test_usage_errors_come_before_any_work(tmp_path, targets):
    session(tmp_path / "in", "a")
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="not a folder"):
        run(tmp_path / "nope", out, targets)
    for kw in ({"jobs": 0}, {"retries": -1}, {"timeout": 0}, {"backend": "spark"},
               {"backend": "loky", "scheduler": "tcp://127.0.0.1:9"}, {"scheduler": "localhost"}):
        with pytest.raises(UsageError):
            run(tmp_path / "in", out, targets, **kw)
    from automix.errors import StyleError

    with pytest.raises(StyleError, match="unknown style"):
        run(tmp_path / "in", out, targets, style="no_such_style")
    assert not out.exists()


def test_unreachable_scheduler_is_an_infrastructure_error(tmp_path, targets):
    session(tmp_path / "in", "a")
    t0 = time.monotonic()
    with pytest.raises(InfrastructureError, match="cannot reach the dask scheduler"):
        run(tmp_path / "in", tmp_path / "out", targets, scheduler="tcp://127.0.0.1:9", connect_timeout=1.0)
    assert time.monotonic() - t0 < 20
    assert not (tmp_path / "out" / "a" / "report.json").exists()


def _start_slow_batch(tmp_path, targets, n=6, **script):
    root, out = tmp_path / "in", tmp_path / "out"
    for k in range(n):
        session(root, f"s{k}", script={"sleep": 0.8, **script})
    proc = subprocess.Popen([sys.executable, "-m", "automix", "batch", str(root), "--out", str(out), "--targets",
                             targets, "--jobs", "2", "--process", PROCESS], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(e["event"] == "result" for e in read_ledger(out / "ledger.jsonl")):
            return proc, root, out
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the batch produced no result in 60 s")


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_stops_dispatching_and_the_rerun_resumes(tmp_path, targets, sig, code):
    proc, root, out = _start_slow_batch(tmp_path, targets)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    events = list(read_ledger(out / "ledger.jsonl"))
    assert events[-2]["event"] == "interrupted" and events[-2]["signal"] == signal.Signals(sig).name
    done = {e["session"] for e in events if e["event"] == "result" and e["status"] == "ok"}
    assert 1 <= len(done) < 6 and "interrupted" in stdout
    rerun = run(root, out, targets)
    assert rerun.exit_code == 0 and partials(out) == []
    skipped = {o.session for o in rerun.sessions if o.status == "skipped"}
    # a session may finish on its worker (report.json committed) after the driver stopped listening: the rerun
    # rightly finds it up to date although the interrupted run's ledger never recorded it
    assert skipped >= done
    for name in skipped - done:
        assert json.loads((out / name / "report.json").read_text())["status"] == "ok"
    assert rerun.counts["ok"] + len(skipped) == 6


def test_kill_9_mid_batch_leaves_no_partial_file_under_a_final_name(tmp_path, targets):
    proc, root, out = _start_slow_batch(tmp_path, targets, n=6, sleep=0.2, sleep_per_block=0.5)
    time.sleep(0.6)  # the next sessions are between their two blocks now
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, mid-write
    proc.wait(timeout=10)
    left = partials(out)
    assert sum((out / f"s{k}" / "report.json").exists() for k in range(6)) < 6  # killed mid-batch
    assert all(".partial" in p and not p.endswith(("mix.wav", "settings.json", "report.json")) for p in left)
    for folder in out.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if (folder / "mix.wav").exists():  # any final-named file is complete
            assert sf.info(str(folder / "mix.wav")).frames == int(1.5 * SR)
        if (folder / "report.json").exists():
            assert json.loads((folder / "report.json").read_text())["status"] == "ok"
    for line in (out / "ledger.jsonl").read_bytes().splitlines()[:-1]:
        json.loads(line)
    rerun = run(root, out, targets)
    assert rerun.exit_code == 0 and rerun.counts["ok"] + rerun.counts["skipped"] == 6
    assert partials(out) == []
    for k in range(6):
        assert sf.info(str(out / f"s{k}" / "mix.wav")).frames == int(1.5 * SR)


def test_sessions_whose_output_folders_collide_on_case_insensitive_file_systems(tmp_path, targets):
    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "Song")
    session(root, "song")
    result = run(root, out, targets)
    assert statuses(result) == {"Song": ("ok", None), "song": ("failed", "E_NAME")}
    assert not (out / "song").exists() and report(out, "Song")["status"] == "ok"


def test_the_real_mixer_in_a_batch_writes_every_output(tmp_path):
    """The default process (the mixer itself, not a stand-in): mix, settings, views and report per session."""
    from automix.sessiongen import write_test_stems

    root, out = tmp_path / "in", tmp_path / "out"
    write_test_stems(root / "song", 3, duration_s=3.0)
    result = run_batch(root, out, style="rock_punk", jobs=1, handle_signals=False)
    assert result.exit_code == 0 and result.counts["ok"] == 1
    folder = out / "song"
    assert sorted(p.name for p in folder.iterdir()) == ["mix.wav", "report.html", "report.json", "settings.json",
                                                        "views.json"]
    views = json.loads((folder / "views.json").read_text())
    assert views["schema"] == "automix.views/1" and len(views["eq_curves"]["stems"]) == 3
    assert report(out, "song")["mix"]["status"] == "ok"


def test_pages_are_written_at_the_end_unless_told_not_to(tmp_path, targets):
    """The dashboard and a page per session come with the outputs (also for a stand-in mixer's reports, which
    hold no targets); --no-html writes none, and a session being redone loses its old page first."""
    root, out = tmp_path / "in", tmp_path / "out"
    session(root, "a")
    session(root, "b")
    result = run(root, out, targets)
    assert result.exit_code == 0 and "html_s" in result.timings
    assert (out / "index.html").is_file() and (out / "a" / "report.html").is_file()
    bare = tmp_path / "bare"
    run(root, bare, targets, html=False)
    assert not list(bare.rglob("*.html"))
    (root / "a" / "stem 1.wav").write_bytes(b"")  # a fails now; its page says so, not the old mix
    run(root, bare, targets, html=False)
    run(root, out, targets, html=False)
    assert not (out / "a" / "report.html").exists() and (out / "b" / "report.html").is_file()

"""The CLI as a user meets it: one line per error, exit codes, nothing written on failure."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import music_like


def run(*args, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "AUTOMIX_DEBUG"}
    return subprocess.run([sys.executable, "-m", "automix", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def _assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, proc.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.fixture
def stems(write_wav):
    return [write_wav("drums.wav", music_like(44100 * 2, 44100, 2, seed=1)),
            write_wav("bass.wav", music_like(44100 * 2, 44100, 1, seed=2) * 0.3)]


def test_template_render_analyze_round_trip(tmp_path, stems):
    settings = tmp_path / "s.json"
    proc = run("settings-template", "--stems", *stems, "--output", settings)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(settings.read_text())
    assert [s["path"] for s in data["stems"]] == ["drums.wav", "bass.wav"]
    for engine in ("pedalboard", "torch"):
        out = tmp_path / f"{engine}.wav"
        proc = run("render", "--settings", settings, "--engine", engine, "--output", out)
        assert proc.returncode == 0, proc.stderr
        info = sf.info(str(out))
        assert (info.subtype, info.samplerate, info.channels) == ("PCM_24", 44100, 2)
    a, _ = sf.read(str(tmp_path / "pedalboard.wav"))
    b, _ = sf.read(str(tmp_path / "torch.wav"))
    assert np.abs(a - b).max() <= 2.0 ** -22  # equal to within the 24-bit quantiser
    proc = run("analyze", "--json", tmp_path / "pedalboard.wav")
    row = json.loads(proc.stdout)[0]
    assert proc.returncode == 0 and row["true_peak_dbtp"] <= -0.9  # default master limiter ceiling -1 dBTP


def test_stems_override(tmp_path, stems, write_wav):
    settings = tmp_path / "s.json"
    run("settings-template", "--stems", *stems, "--output", settings)
    other = write_wav("other.wav", music_like(44100, 44100, 2, seed=5))
    out = tmp_path / "o.wav"
    proc = run("render", "--settings", settings, "--stems", other, stems[1], "--output", out)
    assert proc.returncode == 0, proc.stderr
    assert sf.info(str(out)).frames == 2 * 44100


def test_bad_json_is_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    out = tmp_path / "out.wav"
    _assert_one_line_error(run("render", "--settings", bad, "--output", out), str(bad), "invalid JSON")
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["bad.json"]


@pytest.mark.parametrize("damage", ["missing", "truncated", "text", "nan"])
def test_bad_stem_is_one_line_and_writes_nothing(tmp_path, stems, damage):
    settings = tmp_path / "s.json"
    assert run("settings-template", "--stems", *stems, "--output", settings).returncode == 0
    victim = stems[1]
    if damage == "missing":
        os.remove(victim)
    elif damage == "truncated":
        data = open(victim, "rb").read()
        open(victim, "wb").write(data[: len(data) // 3])
    elif damage == "text":
        open(victim, "w").write("hello")
    else:
        x = music_like(44100 * 2, 44100, 1)
        x[0, 50000] = np.inf
        sf.write(victim, x.T, 44100, subtype="FLOAT")
    before = sorted(os.listdir(tmp_path))
    proc = run("render", "--settings", settings, "--output", tmp_path / "mix.wav")
    _assert_one_line_error(proc, "bass.wav")
    assert sorted(os.listdir(tmp_path)) == before


def test_refuses_to_overwrite_an_input(tmp_path, stems):
    settings = tmp_path / "s.json"
    run("settings-template", "--stems", *stems, "--output", settings)
    before = open(stems[0], "rb").read()
    _assert_one_line_error(run("render", "--settings", settings, "--output", stems[0]), "overwrite")
    assert open(stems[0], "rb").read() == before


def test_analyze_bad_file_row_and_exit_2_as_mix(tmp_path, stems):
    junk = tmp_path / "junk.wav"
    junk.write_text("x")
    proc = run("analyze", stems[0], junk)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr  # an input error, as for mix
    assert "E_UNREADABLE" in proc.stdout and "drums.wav" in proc.stdout


@pytest.mark.parametrize("name", ["mix.mp3", "mix.ogg", "mix"])
def test_an_unwritable_output_format_is_refused_before_any_work(tmp_path, stems, name):
    out = tmp_path / name
    proc = run("mix", "--stems", *stems, "--style", "rock_punk", "--output", out)
    _assert_one_line_error(proc, str(out), ".wav, .flac or .aiff")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bass.wav", "drums.wav"]  # nothing written
    proc = run("mix", "--test-stems", "2", "--style", "rock_punk", "--output", out)
    _assert_one_line_error(proc, ".wav, .flac or .aiff")
    assert not any(p.name.endswith("test-stems") for p in tmp_path.iterdir())  # not even the synthetic stems


#: runs one command in-process and reports whether torch got imported
_NO_TORCH = """
import sys
from automix.cli import main
try:
    main(sys.argv[1:], standalone_mode=True)
except SystemExit as e:
    code = e.code
print("TORCH" if "torch" in sys.modules else "NO-TORCH", code, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["mix", "--help"], ["styles"], ["plugins"],
                                  ["analyze", "{missing}"], ["analyze", "{stem}"],
                                  ["mix", "--stems", "{missing}", "--style", "rock_punk", "--output", "{out}"],
                                  ["render", "--settings", "{missing}", "--output", "{out}"],
                                  ["batch", "{missing}", "--out", "{out_dir}", "--style", "rock_punk"]])
def test_commands_that_need_no_engine_do_not_load_torch(tmp_path, stems, args):
    fill = {"missing": tmp_path / "nope.wav", "stem": stems[0], "out": tmp_path / "m.wav", "out_dir": tmp_path / "o"}
    argv = [a.format(**fill) for a in args]
    proc = subprocess.run([sys.executable, "-c", _NO_TORCH, *argv], capture_output=True, text=True, timeout=120)
    assert "NO-TORCH" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_mistyped_stem_path_is_answered_before_numpy_loads(tmp_path):
    """The commonest input error costs no imports: the one-line answer comes before numpy and the styles load."""
    script = _NO_TORCH.replace('"TORCH" if "torch" in sys.modules else "NO-TORCH"', '"NUMPY" if "numpy" in sys.modules else "NO-NUMPY"')
    proc = subprocess.run([sys.executable, "-c", script, "mix", str(tmp_path / "no-session"), "--style", "rock_punk",
                           "--output", str(tmp_path / "m.wav")], capture_output=True, text=True, timeout=120)
    assert "NO-NUMPY 2" in proc.stderr, proc.stderr
    assert f"{tmp_path / 'no-session'}: file not found; check the path" in proc.stderr


def test_mix_help_says_a_folder_is_accepted_and_batch_when_style_is_required():
    assert "session folder" in run("mix", "--help").stdout
    assert "Required unless" in " ".join(run("batch", "--help").stdout.split())


def test_plugins_json_lists_every_spec():
    from automix.plugins import REGISTRY

    proc = run("plugins", "--json")
    data = json.loads(proc.stdout)
    assert [p["plugin"] for p in data] == list(REGISTRY)
    for p in data:
        assert [s["name"] for s in p["params"]] == list(REGISTRY[p["plugin"]].param_names)


def test_demo(tmp_path):
    proc = run("demo", tmp_path / "demo")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "demo" / "mix.wav").exists() and "LUFS" in proc.stdout
    page = tmp_path / "demo" / "mix.report.html"
    assert page.is_file() and f"open {page} in a browser" in proc.stdout


def test_mix_takes_a_session_folder_and_points_a_folder_of_sessions_to_batch(tmp_path, stems):
    """`automix mix FOLDER` mixes the folder's stems exactly as listing them does (same canonical order, same
    bytes); a folder of session folders is a one-line error naming `automix batch`, and nothing is written."""
    from automix.session import expand_folders, mix_command

    kwargs = dict(style="rock_punk", targets=None, engine="pedalboard", optimize_steps=0, test_stems=None,
                  threads=1, verbose=False)
    out = tmp_path / "out"
    out.mkdir()
    by_files, _ = mix_command(stems, output=str(out / "files.wav"), **kwargs)
    by_folder, lines = mix_command([str(tmp_path)], output=str(out / "folder.wav"), **kwargs)
    assert lines[0] == f"{tmp_path}: 2 stems"
    assert [s["path"] for s in by_folder["stems"]] == [s["path"] for s in by_files["stems"]]
    assert (out / "folder.wav").read_bytes() == (out / "files.wav").read_bytes()

    bounced = tmp_path / "nested" / "Bounced Files"
    bounced.mkdir(parents=True)
    os.link(stems[1], bounced / "bass.wav")
    assert expand_folders([str(tmp_path / "nested")], "rock_punk")[0] == [str(bounced / "bass.wav")]

    sessions = tmp_path / "sessions"
    for name in ("a", "b"):
        (sessions / name).mkdir(parents=True)
        os.link(stems[0], sessions / name / "drums.wav")
    proc = run("mix", sessions, "--style", "rock_punk", "--output", tmp_path / "x.wav")
    _assert_one_line_error(proc, str(sessions), "2 session folders", "automix batch")
    assert not (tmp_path / "x.wav").exists()


def test_mix_prints_one_line_per_stem_with_a_legend(tmp_path, stems):
    """`automix mix` (and --validate) prints each stem's moves on one aligned line under ~110 characters."""
    for extra in ([], ["--validate"]):
        out = tmp_path / f"m{len(extra)}.wav"
        proc = run("mix", *stems, "--style", "rock_punk", "--output", out, *extra)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        header = next(i for i, l in enumerate(lines) if l.split()[:2] == ["role", "stem"])
        rows = lines[header + 1:header + 3]
        assert [r.split()[1] for r in rows] == ["bass.wav", "drums.wav"]
        assert all(len(l) <= 110 for l in lines[header:header + 6])
        assert lines[header + 3].split()[0] == "master"
        assert any("* at an envelope limit, ! past one" in l for l in lines[header + 4:header + 6])
        # the stem column and the level column line up under the header
        col = lines[header].index("stem")
        assert all(r[col:].startswith(n) for r, n in zip(rows, ("bass.wav", "drums.wav")))
        report = json.loads(out.with_suffix(".report.json").read_text())
        for s, r in zip(report["stems"], rows):
            assert r.split()[0] == s["role"] and s["moves"]["pan"] in r.split()


def _on_a_terminal(args) -> tuple[int, str]:
    """Run ``args`` with stderr on a pseudo-terminal; returns (exit code, what the terminal showed)."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=follower, timeout=300)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # drained
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return proc.returncode, shown.decode()


def test_mix_shows_its_stages_on_a_terminal_and_nothing_when_piped_or_quiet(tmp_path):
    """stderr a terminal: one status line rewritten in place per stage, cleared at the end; stderr piped, or
    --quiet on a terminal: not a byte of it."""
    args = [sys.executable, "-m", "automix", "mix", "--test-stems", "2", "--style", "rock_punk", "--output"]
    code, text = _on_a_terminal(args + [str(tmp_path / "tty.wav")])
    assert code == 0
    assert "\rautomix: analysing 2 stems" in text.replace("\x1b[K", "") and "master loop pass 1" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared when the work ends
    code, text = _on_a_terminal(args + [str(tmp_path / "quiet.wav"), "--quiet"])
    assert code == 0 and "automix:" not in text
    piped = run("mix", "--test-stems", "2", "--style", "rock_punk", "--output", tmp_path / "p.wav")
    assert piped.returncode == 0 and "automix:" not in piped.stderr and "\r" not in piped.stderr


def test_the_program_ends_at_once_only_after_a_mix_has_written_everything(tmp_path, stems, monkeypatch, capsys):
    """``automix`` (cli.run): once a mix or a render has written its files the process ends through os._exit with
    the command's own exit code and its output flushed; an error, or any other command, leaves as usual."""
    from automix import cli

    ended: list[int] = []

    def fake_exit(code):  # record, then leave the way os._exit would not let a test see
        ended.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    monkeypatch.setattr(cli, "_finished", [])

    def program(*args):
        monkeypatch.setattr(sys, "argv", ["automix", *map(str, args)])
        with pytest.raises(SystemExit) as done:
            cli.run()
        return done.value.code

    assert program("mix", tmp_path / "missing", "--style", "rock_punk", "--output", tmp_path / "x.wav") == 2
    assert program("styles") in (0, None)
    assert ended == []
    out = tmp_path / "m.wav"
    code = program("mix", *stems, "--style", "rock_punk", "--output", out)
    assert ended == [code] and code in (0, 1)
    report = json.loads(out.with_suffix(".report.json").read_text())  # complete before the exit
    assert sf.info(str(out)).frames == report["duration_s"] * 44100
    assert "all hard targets met" in capsys.readouterr().out or code == 1


def test_a_mix_read_by_head_ends_cleanly(tmp_path, stems):
    """`automix mix ... | head -n 1`: the reader goes away early; the mix still writes everything, exits 0, and
    no traceback is shown."""
    out = tmp_path / "piped.wav"
    cmd = (f"{sys.executable} -m automix mix {' '.join(map(str, stems))} --style rock_punk --output {out} "
           "| head -n 1; exit ${PIPESTATUS[0]}")
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stdout.splitlines()) == 1
    assert json.loads(out.with_suffix(".report.json").read_text())["status"] in ("ok", "missed")

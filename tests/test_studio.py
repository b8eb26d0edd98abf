"""The studio: live edits of a real session, checked against the full render and the files ``automix render``
writes; its HTTP API over a real server."""
import copy
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from automix.errors import SettingsError, StyleError, UsageError
from automix.settings import MixSettings
from automix.studio import STATE_DIR, Studio


@pytest.fixture
def session(ui_outputs, tmp_path):
    """A copy of one mix's outputs with its stems (the studio writes into the session's folder)."""
    folder = tmp_path / "mix"
    shutil.copytree(ui_outputs.mix, folder)
    settings = json.loads((folder / "mix.settings.json").read_text())
    stems = tmp_path / "stems"
    stems.mkdir()
    for s in settings["stems"]:
        src = (ui_outputs.mix / s["path"]).resolve()
        shutil.copy(src, stems / src.name)
        s["path"] = f"../stems/{src.name}"
    (folder / "mix.settings.json").write_text(json.dumps(settings))
    return folder


def fader(settings: dict, stem: int) -> dict:
    return next(p for p in settings["stems"][stem]["chain"] if p["plugin"] == "gain")["params"]


def edited(studio: Studio, stem: int, delta_db: float) -> dict:
    s = copy.deepcopy(studio.state()["page"]["settings"])
    fader(s, stem)["gain_db"] = round(fader(s, stem)["gain_db"] + delta_db, 2)
    return s


def rendered(studio: Studio) -> dict:
    studio.wait()
    state = studio.state()
    assert state["status"] == "ready", state["error"]
    return state


def test_a_fader_move_renders_one_strip_and_the_targets_follow(session, monkeypatch):
    import automix.engines.pedalboard_engine as engine

    studio = Studio(session / "mix.report.json", threads=2)
    studio.wait()  # the warm-up renders every strip once
    pre, post = [], []
    real_pre, real_post = engine.render_prefader, engine.render_postfader
    monkeypatch.setattr(engine, "render_prefader", lambda stem, *a, **k: pre.append(stem.path) or real_pre(stem, *a, **k))
    monkeypatch.setattr(engine, "render_postfader", lambda *a, **k: post.append(1) or real_post(*a, **k))
    before = studio.state()["page"]["report"]
    studio.edit(edited(studio, 0, 3.0))
    state = rendered(studio)
    after = state["page"]["report"]
    # the fader sits after every stage with memory: only the fader, pan and width stages of that strip ran again
    assert pre == [] and len(post) == 1
    assert after["targets"]["integrated_lufs"]["pre_master"] > before["targets"]["integrated_lufs"]["pre_master"]
    assert after["targets"]["integrated_lufs"]["pass"] and after["targets"]["true_peak_dbtp"]["pass"]
    assert after["stems"][0]["gain_db"] == pytest.approx(before["stems"][0]["gain_db"] + 3.0, abs=0.005)
    # the level against the role's place moves with the fader (the strip soloed, as heard)
    assert after["stems"][0]["moves"]["level_db_vs_role"] == pytest.approx(
        before["stems"][0]["moves"]["level_db_vs_role"] + 3.0, abs=0.15)
    assert state["dirty"] and state["can_undo"] and not state["can_redo"]
    assert state["page"]["views"]["loudness"]["master"]["momentary_lufs"]
    # an EQ move renders that strip from its input
    s = copy.deepcopy(state["page"]["settings"])
    next(p for p in s["stems"][1]["chain"] if p["plugin"] == "eq")["params"]["peak2_gain_db"] = 1.5
    studio.edit(s)
    rendered(studio)
    assert len(pre) == 1 and pre[0] == studio.inputs[1] and len(post) == 2


def test_the_preview_is_what_automix_render_makes_of_the_state(session, tmp_path):
    from automix.render import render_to_file

    studio = Studio(session / "mix.report.json", threads=2)
    studio.edit(edited(studio, 1, -2.0))
    rendered(studio)
    settings = MixSettings.from_dict(studio.state()["page"]["settings"])
    for s in settings.stems:
        s.path = str((session / s.path).resolve())
    render_to_file(settings, tmp_path / "ref.wav")
    preview, _ = sf.read(session / STATE_DIR / "current.wav", dtype="int32")
    ref, _ = sf.read(tmp_path / "ref.wav", dtype="int32")
    assert np.array_equal(preview, ref)


def test_undo_and_redo_give_the_same_numbers_again(session):
    studio = Studio(session / "mix.report.json", threads=2)
    studio.edit(edited(studio, 0, 2.0))
    first = rendered(studio)["page"]["report"]["targets"]
    studio.edit(edited(studio, 2, -3.0))
    second = rendered(studio)["page"]["report"]["targets"]
    assert second != first
    studio.undo()
    assert rendered(studio)["page"]["report"]["targets"] == first
    studio.redo()
    assert rendered(studio)["page"]["report"]["targets"] == second
    with pytest.raises(UsageError, match="nothing to redo"):
        studio.redo()


def test_a_newer_edit_supersedes_a_running_render(session):
    studio = Studio(session / "mix.report.json", threads=1)
    studio.wait()
    studio.edit(edited(studio, 0, 1.0))
    studio.edit(edited(studio, 0, 4.0))  # from the same base: the last one wins
    state = rendered(studio)
    base = MixSettings.load(session / "mix.settings.json")
    gain0 = next(p for p in base.stems[0].chain if p.plugin == "gain").params["gain_db"]
    assert fader(state["page"]["settings"], 0)["gain_db"] == pytest.approx(gain0 + 4.0, abs=0.005)
    assert state["position"] == 2 and state["history_length"] == 3


@pytest.mark.parametrize("change, error, match", [
    (lambda s: fader(s, 0).update(gain_db=99.0), SettingsError, "gain_db=99 is out of range"),
    (lambda s: fader(s, 0).update(volume=1.0), SettingsError, "volume"),
    (lambda s: s.pop("sample_rate"), SettingsError, "sample_rate"),
    (lambda s: s["stems"].pop(), SettingsError, "stems"),
    (lambda s: s["stems"][0].update(path="/etc/passwd"), SettingsError, "stem paths cannot change"),
])
def test_an_invalid_edit_is_refused_with_the_settings_files_message(session, change, error, match):
    studio = Studio(session / "mix.report.json", threads=1)
    s = copy.deepcopy(studio.state()["page"]["settings"])
    change(s)
    with pytest.raises(error, match=match):
        studio.edit(s)
    assert studio.state()["version"] == 0 and studio.state()["history_length"] == 1


def test_a_failed_render_keeps_the_last_good_state_and_says_why(session):
    studio = Studio(session / "mix.report.json", threads=1)
    studio.wait()
    good = studio.state()["page"]
    stem = MixSettings.load(session / "mix.settings.json").stems[1].path
    assert stem.endswith("Kit.wav")
    shutil.move(stem, stem + ".away")  # its strip must render again from its input after an EQ edit, and cannot
    s = copy.deepcopy(good["settings"])
    next(p for p in s["stems"][1]["chain"] if p["plugin"] == "eq")["params"]["peak1_gain_db"] = -2.0
    studio.edit(s)
    studio.wait()
    state = studio.state()
    assert state["status"] == "failed" and "Kit.wav: file not found" in state["error"]
    assert state["page"] == good


def test_targets_and_style(session):
    studio = Studio(session / "mix.report.json", threads=2)
    studio.set_targets({"lufs": -14.0, "tolerances": {"lufs_lu": 0.5}})
    state = rendered(studio)
    t = state["page"]["report"]["targets"]["integrated_lufs"]
    assert state["style"]["lufs"] == -14.0 and t["target"] == -14.0 and t["tolerance"] == 0.5
    assert abs(t["final"] + 14.0) <= 0.5
    with pytest.raises(StyleError):
        studio.set_targets({"lufs": 3.0})
    with pytest.raises(StyleError, match="unknown key"):
        studio.set_targets({"loudness": -10})
    studio.switch_style("rock_punk")
    state = rendered(studio)
    assert state["style"]["name"] == "rock_punk" and state["page"]["report"]["style"] == "rock_punk"
    assert abs(state["page"]["report"]["targets"]["integrated_lufs"]["final"] + 9.5) <= 0.1


def test_monitor_mutes_and_solos_without_an_edit(session):
    studio = Studio(session / "mix.report.json", threads=2)
    studio.wait()
    studio.monitor([], [0])
    state = rendered(studio)
    mon = state["audio"]["monitor"]
    assert mon["soloed"] == [0] and state["history_length"] == 1
    assert (session / STATE_DIR / "monitor.wav").is_file() and mon["lufs"] < state["audio"]["current"]["lufs"]
    with pytest.raises(UsageError, match="does not exist"):
        studio.monitor([99], [])
    studio.monitor([], [])
    assert studio.state()["audio"]["monitor"] is None


def test_save_writes_what_automix_render_writes_and_keeps_a_history(session, tmp_path):
    studio = Studio(session / "mix.report.json", threads=2)
    stems_before = {p: p.read_bytes() for p in (session.parent / "stems").iterdir()}
    studio.edit(edited(studio, 0, 1.5))
    rendered(studio)
    saved = studio.save()
    assert sorted(p.rsplit("/", 1)[1] for p in saved) == ["mix.report.html", "mix.report.json", "mix.settings.json",
                                                           "mix.views.json", "mix.wav"]
    proc = subprocess.run([sys.executable, "-m", "automix", "render", "--settings", str(session / "mix.settings.json"),
                           "--output", str(tmp_path / "again.wav")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (session / "mix.wav").read_bytes() == (tmp_path / "again.wav").read_bytes()
    report = json.loads((session / "mix.report.json").read_text())
    assert report["stems"][0]["gain_db"] == fader(json.loads((session / "mix.settings.json").read_text()), 0)["gain_db"]
    assert len(list((session / STATE_DIR / "history").glob("*.settings.json"))) == 1
    assert not studio.state()["dirty"]
    assert {p: p.read_bytes() for p in (session.parent / "stems").iterdir()} == stems_before


def test_optimise_reports_each_step_and_applies_as_an_edit(session):
    studio = Studio(session / "mix.report.json", threads=2)
    studio.start_optimise(3)
    import time

    deadline = time.monotonic() + 300
    while studio.state()["optimise"]["running"] and time.monotonic() < deadline:
        time.sleep(0.2)
    opt = studio.state()["optimise"]
    assert opt["result"] and [h["step"] for h in opt["history"]] == [1, 2, 3]
    assert all(set(h) >= {"loss", "centroid_error_rel", "ms_error", "balance_error"} for h in opt["history"])
    studio.apply_optimise()
    state = rendered(studio)
    assert state["position"] == 1 and state["can_undo"]


def test_a_failed_session_has_no_studio(ui_outputs):
    with pytest.raises(UsageError, match="no mix to edit"):
        Studio(ui_outputs.batch / "broken" / "report.json")


# ------------------------------------------------------------------------------------------------- HTTP


@pytest.fixture
def served_session(session):
    from tests.test_server import Served

    s = Served(session)
    yield s
    s.stop()


def _post(served, path, body, *, content_type="application/json", token=True):
    import http.client

    conn = http.client.HTTPConnection(served.host, served.port, timeout=120)
    try:
        q = f"?token={served.token}" if token else ""
        conn.request("POST", path + q, body=json.dumps(body), headers={
            "Host": f"{served.host}:{served.port}", "Content-Type": content_type})
        r = conn.getresponse()
        body = r.read()
        return r.status, json.loads(body) if r.getheader("content-type") == "application/json" else body.decode()
    finally:
        conn.close()


def _wait_ready(served, api):
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = json.loads(served.get(f"{api}/state")[2])
        if state["status"] != "rendering":
            return state
        time.sleep(0.1)
    raise TimeoutError


def test_the_studio_api(served_session, session):
    page = json.loads(served_session.get("/api/page")[2])
    api = page["studio"]["api"]
    assert api == "/api/studio/-"
    state = _wait_ready(served_session, api)
    s = copy.deepcopy(state["page"]["settings"])
    fader(s, 0)["gain_db"] += 3
    status, answer = _post(served_session, f"{api}/edit", {"settings": s})
    assert status == 200 and answer["version"] > state["version"]
    state = _wait_ready(served_session, api)
    assert state["status"] == "ready" and state["page"]["report"]["targets"]["integrated_lufs"]["pass"]
    status, err = _post(served_session, f"{api}/edit", {"settings": {"schema": "automix.settings/1"}})
    assert status == 400 and err["code"] == "E_SETTINGS" and "sample_rate" in err["error"]
    assert _post(served_session, f"{api}/edit", {"settings": s}, content_type="text/plain")[0] == 415
    assert _post(served_session, f"{api}/undo", {}, token=False)[0] == 403
    assert _post(served_session, f"{api}/redo", {})[0] == 409  # nothing to redo
    status, body, = _post(served_session, f"{api}/undo", {})
    assert status == 200
    _wait_ready(served_session, api)
    status, headers, wav = served_session.get(f"{api}/audio/current")
    assert status == 200 and headers["content-type"] == "audio/wav" and wav[:4] == b"RIFF"
    assert served_session.get(f"{api}/audio/nope")[0] == 404
    assert served_session.get(f"{api}/audio/current", token=False)[0] == 403
    status, saved = _post(served_session, f"{api}/save", {})
    assert status == 200 and any(p.endswith("mix.wav") for p in saved["saved"])
    assert json.loads(served_session.get("/api/studio/nope/state")[2])["code"] == "E_USAGE"


def test_the_event_stream_tells_each_stage(served_session):
    import http.client
    import threading

    api = json.loads(served_session.get("/api/page")[2])["studio"]["api"]
    state = _wait_ready(served_session, api)
    events = []
    conn = http.client.HTTPConnection(served_session.host, served_session.port, timeout=60)
    conn.request("GET", f"{api}/events?token={served_session.token}",
                 headers={"Host": f"{served_session.host}:{served_session.port}"})
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("content-type").startswith("text/event-stream")

    def read():
        for line in r:
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
                if events[-1]["status"] == "ready" and len(events) > 1:
                    return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    s = copy.deepcopy(state["page"]["settings"])
    fader(s, 1)["gain_db"] -= 2
    _post(served_session, f"{api}/edit", {"settings": s})
    t.join(60)
    conn.close()
    stages = [e["stage"] for e in events if e["status"] == "rendering"]
    assert "bus" in stages and "master" in stages and events[-1]["status"] == "ready"
    assert [e["version"] for e in events] == sorted(e["version"] for e in events)


def test_repeated_edits_keep_the_ceiling_and_start_where_the_last_render_landed(session):
    """Each render re-runs the master loop: it must not lower the limiter's ceiling again every time (the mix's
    margin is already in the chain), and an edit that changes the bus a little lands with one search pass (from
    what the limiter took last time; its numbers are the provisional ones) and one final pass."""
    studio = Studio(session / "mix.report.json", threads=2)
    ceiling = lambda st: next(p for p in st["page"]["settings"]["master"]["chain"]  # noqa: E731
                              if p["plugin"] == "limiter")["params"]["ceiling_db"]
    original = ceiling(studio.state())
    studio.edit(edited(studio, 0, 0.5))
    first = rendered(studio)
    studio.edit(edited(studio, 0, 0.5))
    second = rendered(studio)
    assert ceiling(first) == ceiling(second) == original
    passes = second["page"]["report"]["master"]["iterations"]
    assert len(passes) == 2 and passes[0]["true_peak_dbtp"] is None and passes[1]["true_peak_dbtp"] is not None
    assert second["page"]["report"]["targets"]["integrated_lufs"]["pass"]


def test_a_save_that_fails_midway_leaves_the_previous_files(session, monkeypatch):
    import automix.render as render

    studio = Studio(session / "mix.report.json", threads=2)
    studio.edit(edited(studio, 0, 1.0))
    rendered(studio)
    before = {p.name: p.read_bytes() for p in session.iterdir() if p.is_file()}

    def dies(settings, output, **kw):
        open(output, "wb").write(b"RIFF half a file")
        raise OSError("disk full")

    monkeypatch.setattr(render, "render_to_file", dies)
    with pytest.raises(OSError, match="disk full"):
        studio.save()
    assert {p.name: p.read_bytes() for p in session.iterdir() if p.is_file()} == before
    assert not list((session / STATE_DIR).glob("save-*")), "nothing staged is left behind"
    assert studio.state()["dirty"]


def test_a_reference_of_your_own(session, served_session, write_wav):
    from tests.conftest import music_like

    api = "/api/studio/-"
    ref = session / "refs"
    ref.mkdir()
    import soundfile as sf

    sf.write(ref / "song.wav", music_like(48000 * 3, 48000, 1).T, 48000)  # mono, another rate
    status, answer = _post(served_session, f"{api}/reference", {"path": "refs/song.wav"})
    assert status == 200, answer
    state = json.loads(served_session.get(f"{api}/state")[2])
    user = next(r for r in state["audio"]["references"] if r["name"] == "user")
    assert user["label"] == "song.wav" and user["lufs"] < 0
    status, headers, wav = served_session.get(user["url"])
    info = sf.info(__import__("io").BytesIO(wav))
    assert status == 200 and info.channels == 2 and info.samplerate == 44100
    assert abs(info.frames - 3 * 44100) <= 1
    for bad, code in (("../../etc/passwd", 409), ("refs/nope.wav", 409), ("mix.report.json", 400)):
        status, err = _post(served_session, f"{api}/reference", {"path": bad})
        assert status == code and "error" in err, (bad, err)


def test_dropped_caches_render_the_same_numbers(session):
    studio = Studio(session / "mix.report.json", threads=2)
    studio.edit(edited(studio, 0, 1.0))
    first = rendered(studio)["page"]["report"]["targets"]
    studio.edit(edited(studio, 0, 1.0))
    rendered(studio)
    studio.drop_caches()
    assert not studio._strips and not studio._prefader
    studio.undo()
    assert rendered(studio)["page"]["report"]["targets"] == first


def test_the_studio_exports_the_state_on_screen(served_session, session):
    from automix.export.dawproject import read_dawproject

    api = json.loads(served_session.get("/api/page")[2])["studio"]["api"]
    state = _wait_ready(served_session, api)
    s = copy.deepcopy(state["page"]["settings"])
    fader(s, 0)["gain_db"] = round(fader(s, 0)["gain_db"] - 2.5, 2)
    assert _post(served_session, f"{api}/edit", {"settings": s})[0] == 200
    state = _wait_ready(served_session, api)
    status, answer = _post(served_session, f"{api}/export", {"kind": "dawproject", "muted": [1]})
    assert status == 200 and len(answer["files"]) == 1
    link = answer["files"][0]
    assert link.startswith("/files/") and link.endswith(".dawproject")
    status, _, data = served_session.get(link)
    assert status == 200 and data[:2] == b"PK"
    back = read_dawproject(session / link[len("/files/"):], media_folder=session.parent / "media")
    assert [fader(back.to_dict(), 0)] == [fader(state["page"]["settings"], 0)]
    assert fader(back.to_dict(), 0)["gain_db"] != fader(json.loads((session / "mix.settings.json").read_text()), 0)[
        "gain_db"], "the export is the edit on screen, not the saved settings"
    status, answer = _post(served_session, f"{api}/export", {"kind": "csv"})
    assert status == 200 and answer["files"][0].endswith("settings.csv")
    status, err = _post(served_session, f"{api}/export", {"kind": "protools"})
    assert status == 400 and err["code"] == "E_USAGE" and "dawproject" in err["error"]
    assert _post(served_session, f"{api}/export", {"kind": "csv"}, token=False)[0] == 403


def test_the_loudness_arrives_first_and_the_final_pass_confirms_it(session):
    seen = []
    studio = Studio(session / "mix.report.json", threads=2,
                    on_change=lambda: seen.append((studio.status, copy.deepcopy(studio.provisional))))
    studio.wait()
    for delta in (2.0, -1.0):  # the first edit of a master searches; the next starts on a final pass
        seen.clear()
        studio.edit(edited(studio, 0, delta))
        state = rendered(studio)
        early = [p for status, p in seen if status == "rendering" and p is not None]
        assert len(early) == 1, "one provisional publish per render"
        first, final = early[0]["targets"], state["page"]["report"]["targets"]
        assert set(first) == {"integrated_lufs", "ms_ratio"}
        assert first["integrated_lufs"]["pre_master"] == pytest.approx(final["integrated_lufs"]["pre_master"], abs=1e-6)
        assert first["integrated_lufs"]["final"] == pytest.approx(final["integrated_lufs"]["final"], abs=0.05)
        assert first["ms_ratio"]["final"] == pytest.approx(final["ms_ratio"]["final"], abs=0.01)
        assert first["ms_ratio"]["pre_master"] is None
        assert state["provisional"] is None and studio.events_since(-1)[0]["provisional"] is False

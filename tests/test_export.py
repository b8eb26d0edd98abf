"""Exports for DAWs: stem records, printed stems, DAWproject (write, spec facts, read back), the CSV table,
the command line and the batch.

One real mix of a generated session (one stem renamed to a unicode name with spaces) is made once; tests
copy it when they change anything.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import soundfile as sf

from automix.errors import AutomixError, SettingsError
from automix.export import export, parse_kinds
from automix.export.common import load_settings, track_names
from automix.export.dawproject import SHELF_Q, read_dawproject, write_dawproject
from automix.export.printing import print_names, print_stems
from automix.export.table import settings_table
from automix.provenance import check_stems, record_stems, records_beside
from automix.settings import MixSettings
from tests.conftest import null_residual_db

UNICODE_STEM = "Lead Vöx 1"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """``root/in/<stems>`` and ``root/out/mix.*`` of one real ``automix mix`` (rock_punk, 4 s)."""
    from automix.session import mix_command
    from automix.sessiongen import write_sessions

    root = tmp_path_factory.mktemp("export")
    write_sessions(root / "gen", 1, seed=5, duration_s=4.0)
    stems = root / "in"
    shutil.copytree(next((root / "gen").iterdir()), stems)
    first = sorted(stems.glob("*.wav"))[0]
    first.rename(first.with_name(f"{UNICODE_STEM}.wav"))
    (root / "out").mkdir()
    mix_command(sorted(str(p) for p in stems.glob("*.wav")), style="rock_punk", targets=None,
                output=str(root / "out" / "mix.wav"), engine="pedalboard", optimize_steps=0, test_stems=None,
                threads=1, verbose=False, html=False)
    return root


@pytest.fixture
def session(mixed, tmp_path):
    """A private copy of the mixed session: ``(settings path, root)``."""
    root = tmp_path / "s"
    shutil.copytree(mixed, root)
    return root / "out" / "mix.settings.json", root


def _read(path) -> np.ndarray:
    return sf.read(str(path), dtype="float32", always_2d=True)[0].T


# ------------------------------------------------------------------------------------------- stem records


def test_a_mix_records_the_size_and_hash_of_every_stem(session):
    settings_path, _ = session
    data = json.loads(settings_path.read_text(encoding="utf-8"))
    for stem in data["stems"]:
        path = settings_path.parent / stem["path"]
        raw = path.read_bytes()
        assert stem["source"] == {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
    assert MixSettings.load(settings_path).to_dict()["stems"][0]["source"] == data["stems"][0]["source"]


def test_records_taken_beside_the_mix_go_to_their_own_stems(session):
    """The hashes a threaded mix starts before its first stage land on the stem they were taken from, whatever
    order the stems were given in; a stem they miss is hashed on the spot."""
    settings_path, _ = session
    settings = MixSettings.load(settings_path)
    expected = [stem.source for stem in settings.stems]
    paths = [stem.path for stem in settings.stems]
    records = records_beside(list(reversed(paths[1:]))).result()  # another order, and the first stem left out
    for stem in settings.stems:
        stem.source = None
    record_stems(settings, records)
    assert [stem.source for stem in settings.stems] == expected


@pytest.mark.parametrize("change", ["content", "length", "missing"])
def test_a_changed_or_missing_stem_is_named_and_stops_the_export(session, change):
    settings_path, root = session
    stem = next((root / "in").glob("*.wav"))
    raw = bytearray(stem.read_bytes())
    if change == "content":
        raw[-1] ^= 0xFF  # one bit pattern in the last sample: same size, different hash
        stem.write_bytes(bytes(raw))
    elif change == "length":
        stem.write_bytes(bytes(raw[:-4]))
    else:
        stem.unlink()
    out = root / "out" / "x.dawproject"
    with pytest.raises(AutomixError) as e:
        export("dawproject", settings_path, out)
    assert e.value.code == ("E_MISSING" if change == "missing" else "E_STEM_CHANGED")
    assert stem.name in str(e.value) and "\n" not in str(e.value)
    assert not out.exists()


def test_settings_without_records_need_unchecked(session, tmp_path):
    settings_path, _ = session
    data = json.loads(settings_path.read_text(encoding="utf-8"))
    for stem in data["stems"]:
        del stem["source"]
    bare = settings_path.with_name("bare.settings.json")
    bare.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SettingsError, match="--unchecked"):
        load_settings(bare)
    check_stems(load_settings(bare, checked=False), require=False)  # still checks the files exist


def test_a_malformed_record_is_a_settings_error(session):
    settings_path, _ = session
    data = json.loads(settings_path.read_text(encoding="utf-8"))
    data["stems"][0]["source"]["sha256"] = "XYZ"
    with pytest.raises(SettingsError, match="sha256"):
        MixSettings.from_dict(data)


# ------------------------------------------------------------------------------------------ printed stems


def test_printed_stems_sum_to_the_premaster_and_through_the_master_null_the_mix(session):
    from automix.engines.pedalboard_engine import StreamingChain, build_stages

    settings_path, root = session
    settings = load_settings(settings_path)
    files = [Path(p) for p in export("stems", settings_path, root / "prints")]
    names = [f.name for f in files]
    assert names == print_names(settings) + ["premaster.wav", "master.wav"]
    assert any(n.endswith(f" {UNICODE_STEM}.wav") for n in names)
    prints = [_read(f) for f in files]
    mix = _read(root / "out" / "mix.wav")
    lengths = {p.shape for p in prints}
    assert lengths == {(2, mix.shape[1])}, "every print is stereo, sample-aligned and as long as the mix"
    assert all(sf.info(str(f)).subtype == "FLOAT" for f in files)
    bus = prints[0].copy()
    for p in prints[1:-2]:
        bus += p
    assert np.array_equal(bus, prints[-2]), "the prints sum to the pre-master sample for sample"
    chain = StreamingChain(build_stages(settings.sample_rate, settings.master, settings.master_input_gain_db or None),
                           settings.sample_rate, 8192)
    out = np.concatenate([chain.process(bus[:, s:s + 8192]) for s in range(0, bus.shape[1], 8192)]
                         + [chain.flush()], axis=1)
    assert null_residual_db(mix, out) <= -90.0
    assert null_residual_db(mix, prints[-1]) <= -90.0


def test_24_bit_prints_and_an_existing_print_needs_force(session):
    settings_path, root = session
    settings = load_settings(settings_path)
    folder = root / "prints24"
    result = print_stems(settings, folder, fmt="24")
    assert all(sf.info(p).subtype == "PCM_24" for p in result["files"]) and result["clipped"] == []
    first = Path(result["files"][0])
    before = first.stat().st_mtime_ns
    with pytest.raises(AutomixError) as e:
        print_stems(settings, folder, fmt="24")
    assert e.value.code == "E_EXISTS" and first.stat().st_mtime_ns == before
    print_stems(settings, folder, fmt="float", force=True)
    assert sf.info(str(first)).subtype == "FLOAT"


def test_a_print_that_fails_midway_leaves_the_folder_as_it_was(session, monkeypatch):
    from automix.audio_io import AtomicWriter

    settings_path, root = session
    settings = load_settings(settings_path)
    calls = {"n": 0}
    write = AtomicWriter.write

    def failing(self, block):
        calls["n"] += 1
        if calls["n"] == 40:
            raise OSError("disk full")
        write(self, block)

    monkeypatch.setattr(AtomicWriter, "write", failing)
    folder = root / "prints-broken"
    with pytest.raises(OSError):
        print_stems(settings, folder)
    assert list(folder.iterdir()) == []


# --------------------------------------------------------------------------------------------- DAWproject

#: facts of the published Project.xsd: the order of each element's children (an xs:sequence; extensions
#: append to their base's), attribute enumerations and required attributes
SEQUENCE = {
    "Project": ["Application", "Transport", "Structure", "Arrangement", "Scenes"],
    "Transport": ["Tempo", "TimeSignature"],
    "Track": ["Channel", "Track"],
    "Channel": ["Devices", "Mute", "Pan", "Sends", "Volume"],
    "BuiltinDevice": ["Parameters", "Enabled", "State"],
    "Equalizer": ["Parameters", "Enabled", "State", "Band", "InputGain", "OutputGain"],
    "Compressor": ["Parameters", "Enabled", "State", "Attack", "AutoMakeup", "InputGain", "OutputGain", "Ratio",
                   "Release", "Threshold"],
    "Limiter": ["Parameters", "Enabled", "State", "Attack", "InputGain", "OutputGain", "Release", "Threshold"],
    "Band": ["Freq", "Gain", "Q", "Enabled"],
    "Clip": ["Audio"],
    "Audio": ["File"],
}
UNITS = {"linear", "normalized", "percent", "decibel", "hertz", "semitones", "seconds", "beats", "bpm"}
REAL_PARAMETERS = {"Tempo", "Pan", "Volume", "Freq", "Gain", "Q", "InputGain", "OutputGain", "Attack", "Ratio",
                   "Release", "Threshold", "RealParameter"}
BAND_TYPES = {"highPass", "lowPass", "bandPass", "highShelf", "lowShelf", "bell", "notch"}
DEVICE_ROLES = {"instrument", "noteFX", "audioFX", "analyzer"}
MIXER_ROLES = {"regular", "master", "effect", "submix", "vca"}
REQUIRED = {"Project": {"version"}, "Application": {"name", "version"}, "Band": {"type"},
            "Audio": {"channels", "sampleRate", "duration"}, "File": {"path"}, "Clip": {"time"},
            "TimeSignature": {"numerator", "denominator"}, "Equalizer": {"deviceName", "deviceRole"},
            "Compressor": {"deviceName", "deviceRole"}, "Limiter": {"deviceName", "deviceRole"},
            "BuiltinDevice": {"deviceName", "deviceRole"}}


def _project(path) -> tuple[ET.Element, zipfile.ZipFile]:
    z = zipfile.ZipFile(path)
    return ET.fromstring(z.read("project.xml")), z


def test_the_dawproject_holds_what_the_specification_says(session):
    settings_path, root = session
    out = root / "out" / "song.dawproject"
    export("dawproject", settings_path, out, tempo_bpm=128.0)
    settings = load_settings(settings_path)
    project, z = _project(out)
    assert z.testzip() is None
    assert {"project.xml", "metadata.xml"} <= set(z.namelist())
    assert project.tag == "Project" and project.get("version") == "1.0"
    assert project.find("Application").get("name") == "automix"
    ids = [e.get("id") for e in project.iter() if e.get("id")]
    assert len(ids) == len(set(ids)), "xs:ID values are unique"
    for e in project.iter():
        order = SEQUENCE.get(e.tag)
        if order:
            tags = [c.tag for c in e]
            assert all(t in order for t in tags), (e.tag, tags)
            assert [order.index(t) for t in tags] == sorted(order.index(t) for t in tags), (e.tag, tags)
        assert REQUIRED.get(e.tag, set()) <= set(e.attrib), e.tag
        if e.tag in REAL_PARAMETERS:
            assert e.get("unit") in UNITS, (e.tag, e.get("unit"))
            float(e.get("value"))
        if e.tag == "Band":
            assert e.get("type") in BAND_TYPES
        if "deviceRole" in e.attrib:
            assert e.get("deviceRole") in DEVICE_ROLES
        if e.tag == "Channel":
            assert e.get("role") in MIXER_ROLES
        for ref in ("destination", "track"):
            if e.get(ref):
                assert e.get(ref) in ids, f"{e.tag} {ref}={e.get(ref)} resolves"
    assert project.find("Transport/Tempo").get("unit") == "bpm"
    assert float(project.find("Transport/Tempo").get("value")) == 128.0
    tracks = project.findall("Structure/Track")
    assert [t.get("name") for t in tracks] == track_names(settings) + ["Master"]
    assert UNICODE_STEM in [t.get("name") for t in tracks]
    master = tracks[-1].find("Channel")
    assert master.get("role") == "master"
    for track, stem in zip(tracks, settings.stems):
        channel = track.find("Channel")
        assert channel.get("destination") == master.get("id")
        fader = next(p.params["gain_db"] for p in stem.chain if p.plugin == "gain")
        pan = next(p.params["pan"] for p in stem.chain if p.plugin == "pan")
        volume, pan_e = channel.find("Volume"), channel.find("Pan")
        assert volume.get("unit") == "linear" and float(volume.get("value")) == pytest.approx(10 ** (fader / 20), 1e-12)
        assert pan_e.get("unit") == "normalized" and float(pan_e.get("value")) == pytest.approx((pan + 1) / 2, 1e-12)
        eq = channel.find("Devices/Equalizer")
        assert float(eq.find("InputGain").get("value")) == stem.input_gain_db
        bands = {b.get("type"): b for b in eq.findall("Band")}
        assert len(eq.findall("Band[@type='bell']")) == 3
        assert float(bands["highPass"].find("Q").get("value")) == 0.5
        assert float(bands["lowShelf"].find("Q").get("value")) == pytest.approx(SHELF_Q)
        comp = next(p.params for p in stem.chain if p.plugin == "compressor")
        c = channel.find("Devices/Compressor")
        assert c.find("Ratio").get("unit") == "percent"
        assert float(c.find("Ratio").get("value")) == pytest.approx(100 * (1 - 1 / comp["ratio"]))
        assert float(c.find("Attack").get("value")) == pytest.approx(comp["attack_ms"] / 1000)
        sat = channel.find("Devices/BuiltinDevice[@deviceID='automix.saturation']")
        assert {p.get("name") for p in sat.find("Parameters")} == {"drive_db", "mix", "trim_db"}
        assert "saturation" in track.get("comment")
        clip = project.find(f"Arrangement/Lanes/Lanes[@track='{track.get('id')}']/Clips/Clip")
        assert float(clip.get("time")) == 0.0
        audio = clip.find("Audio")
        info = sf.info(stem.path)
        assert int(audio.get("sampleRate")) == info.samplerate and int(audio.get("channels")) == info.channels
        ref = audio.find("File")
        assert ref.get("external") == "false" and z.read(ref.get("path")) == Path(stem.path).read_bytes()
    assert master.find("Devices/Limiter/Threshold").get("unit") == "decibel"
    meta = ET.fromstring(z.read("metadata.xml"))
    assert meta.tag == "MetaData" and meta.find("Title").text == "mix"
    assert "rock_punk" in meta.find("Comment").text and "automix" in meta.find("Comment").text


def test_the_dawproject_reads_back_into_settings_that_render_the_same_mix(session):
    from automix.render import render_to_file

    settings_path, root = session
    out = root / "out" / "song.dawproject"
    export("dawproject", settings_path, out)
    back = read_dawproject(out, media_folder=root / "media")
    original = load_settings(settings_path)
    assert [s.chain for s in back.stems] == [s.chain for s in original.stems]
    assert [s.input_gain_db for s in back.stems] == [s.input_gain_db for s in original.stems]
    assert back.master == original.master and back.master_input_gain_db == original.master_input_gain_db
    assert back.sample_rate == original.sample_rate
    render_to_file(back, root / "again.wav")
    assert null_residual_db(_read(root / "out" / "mix.wav"), _read(root / "again.wav")) <= -90.0


def test_referenced_media_resolve_after_the_folder_moves(session, tmp_path):
    settings_path, root = session
    out = root / "out" / "song.dawproject"
    export("dawproject", settings_path, out, reference_media=True)
    project, z = _project(out)
    assert [n for n in z.namelist() if n.startswith("audio/")] == []
    for ref in project.iter("File"):
        assert ref.get("external") == "true" and ref.get("path").startswith("../in/")
    moved = tmp_path / "elsewhere"
    shutil.move(str(root), moved)
    back = read_dawproject(moved / "out" / "song.dawproject")
    assert all(Path(s.path).is_file() and str(moved) in s.path for s in back.stems)


def test_a_dawproject_the_reader_cannot_play_is_refused_by_name(session, tmp_path):
    settings_path, root = session
    out = root / "out" / "song.dawproject"
    export("dawproject", settings_path, out, reference_media=True)
    project, _ = _project(out)
    project.find(".//Band[@type='bell']").set("type", "notch")
    edited = tmp_path / "edited.dawproject"
    with zipfile.ZipFile(edited, "w") as z:
        z.writestr("project.xml", ET.tostring(project))
    with pytest.raises(SettingsError, match="notch"):
        read_dawproject(edited)
    hostile = tmp_path / "hostile.dawproject"
    with zipfile.ZipFile(hostile, "w") as z:
        z.writestr("project.xml", '<!DOCTYPE x [<!ENTITY a "aaaa">]><Project version="1.0">&a;</Project>')
    with pytest.raises(SettingsError, match="DOCTYPE"):
        read_dawproject(hostile)


def test_mute_and_solo_travel_to_the_channels(session):
    settings_path, root = session
    settings = load_settings(settings_path)
    out = write_dawproject(settings, root / "out" / "ms.dawproject", reference_media=True, muted=[1], soloed=[0])
    channels = [t.find("Channel") for t in _project(out)[0].findall("Structure/Track")]
    assert [c.find("Mute").get("value") for c in channels[:2]] == ["false", "true"]
    assert [c.get("solo") for c in channels[:2]] == ["true", "false"]


# -------------------------------------------------------------------------------------------------- table


def test_the_table_has_a_row_per_stem_and_the_master_in_engineering_units(session):
    settings_path, _ = session
    settings = load_settings(settings_path)
    rows = list(csv.DictReader(io.StringIO(export("csv", settings_path, None)[0])))
    assert [r["track"] for r in rows] == track_names(settings) + ["Master"]
    report = json.loads(settings_path.with_name("mix.report.json").read_text(encoding="utf-8"))
    assert [r["role"] for r in rows[:-1]] == [s["role"] for s in report["stems"]]
    for row, stem in zip(rows, settings.stems):
        assert float(row["input_gain_db"]) == stem.input_gain_db
        for p in stem.chain:
            for k, v in p.to_dict()["params"].items():
                assert row[f"{p.plugin}.{k}"] == str(v)
    master = rows[-1]
    assert float(master["limiter.ceiling_db"]) == next(p.params["ceiling_db"] for p in settings.master
                                                          if p.plugin == "limiter")
    assert settings_table(settings).splitlines()[0].startswith("track,file,role,input_gain_db,eq.highpass_hz")


# ----------------------------------------------------------------------------------- command line, batch


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "automix", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_the_command_line_refuses_existing_outputs_and_changed_stems_in_one_line(session):
    settings_path, root = session
    out = root / "out" / "song.RPP"
    first = _cli("export", "reaper", settings_path, out)
    assert first.returncode == 0 and out.is_file(), first.stderr
    again = _cli("export", "reaper", settings_path, out)
    assert again.returncode == 2 and "--force" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert _cli("export", "reaper", settings_path, out, "--force").returncode == 0
    stem = next((root / "in").glob("*.wav"))
    stem.write_bytes(stem.read_bytes()[:-4])
    table = root / "out" / "t.csv"
    changed = _cli("export", "csv", settings_path, "-o", table)
    assert changed.returncode == 2 and stem.name in changed.stderr and "Traceback" not in changed.stderr
    assert not table.exists()


def test_mix_prints_stems_when_asked(tmp_path):
    proc = _cli("mix", "--test-stems", "3", "--style", "country_pop", "-o", tmp_path / "m.wav",
                "--print-stems", tmp_path / "prints", "--no-html")
    assert proc.returncode in (0, 1), proc.stderr
    files = sorted(p.name for p in (tmp_path / "prints").iterdir())
    assert len(files) == 5 and "master.wav" in files and "premaster.wav" in files
    assert null_residual_db(_read(tmp_path / "m.wav"), _read(tmp_path / "prints" / "master.wav")) <= -90.0


def test_unknown_export_kinds_are_named():
    with pytest.raises(AutomixError, match="choose from stems, dawproject, reaper, csv"):
        parse_kinds("dawproject,protools")
    assert parse_kinds("csv, reaper,stems") == ["stems", "reaper", "csv"]


def test_a_batch_writes_the_exports_records_them_and_resumes(tmp_path):
    from automix.batch.ledger import read_ledger
    from automix.batch.runner import run_batch
    from automix.sessiongen import write_sessions

    write_sessions(tmp_path / "in", 1, seed=9, duration_s=3.0)
    kinds = ["stems", "dawproject", "reaper", "csv"]
    result = run_batch(tmp_path / "in", tmp_path / "out", style="rnb_ballad", jobs=1, handle_signals=False,
                       exports=kinds)
    assert result.exit_code in (0, 1)
    name = next((tmp_path / "in").iterdir()).name
    folder = tmp_path / "out" / name
    for p in ("stems/master.wav", f"{name}.dawproject", f"{name}.RPP", "settings.csv"):
        assert (folder / p).is_file(), p
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    recorded = {k.split(":")[0] for k in report["outputs"] if ":" in k}
    assert recorded == set(kinds)
    assert report["outputs"][f"dawproject:{name}.dawproject"]["bytes"] == (folder / f"{name}.dawproject").stat().st_size
    results = [e for e in read_ledger(tmp_path / "out" / "ledger.jsonl") if e["event"] == "result"]
    assert results[-1]["exports"] == {"stems": len(list((folder / "stems").iterdir())), "dawproject": 1,
                                      "reaper": 1, "csv": 1}
    if report["status"] == "ok":
        again = run_batch(tmp_path / "in", tmp_path / "out", style="rnb_ballad", jobs=1, handle_signals=False,
                          exports=kinds)
        assert again.counts.get("skipped") == 1
        (folder / "settings.csv").unlink()
        third = run_batch(tmp_path / "in", tmp_path / "out", style="rnb_ballad", jobs=1, handle_signals=False,
                          exports=kinds)
        assert third.counts.get("skipped", 0) == 0 and (folder / "settings.csv").is_file()
    from automix.pages import session_page

    page_links = session_page(folder / "report.json")["links"]["exports"]
    assert {e["kind"] for e in page_links} == set(kinds)
    assert next(e for e in page_links if e["kind"] == "stems")["href"] == "stems"

"""The REAPER export, read back with an independent RPP parser (the ``rpp`` package)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import rpp  # an independent RPP reader (the test extra)
import soundfile as sf

from automix.errors import AutomixError, UsageError
from automix.export.printing import print_names, print_stems
from automix.export.reaper import quote, write_reaper
from automix.render import settings_template
from tests.conftest import music_like

SR = 44100
#: file name, channels, seconds, fader (dB), pan
STEMS = [("Lead Vöx 1.wav", 2, 1.5, -6.5, -0.5),
         ("bass.wav", 1, 1.0, 3.25, 0.0),
         ("Keys.flac", 2, 1.25, -12.0, 0.75)]
GUID = re.compile(r"^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$")


@pytest.fixture
def session(tmp_path):
    """A project folder with ``stems/`` (three short stems) and an empty ``out/``; returns (folder, settings)."""
    proj = tmp_path / "proj"
    (proj / "stems").mkdir(parents=True)
    (proj / "out").mkdir()
    paths = []
    for k, (name, ch, secs, _, _) in enumerate(STEMS):
        p = proj / "stems" / name
        sf.write(p, 0.3 * music_like(int(secs * SR), SR, channels=ch, seed=k).T, SR)
        paths.append(str(p))
    settings = settings_template(paths)
    for stem, (_, _, _, db, pan) in zip(settings.stems, STEMS):
        for stage in stem.chain:
            if stage.plugin == "gain":
                stage.params["gain_db"] = db
            elif stage.plugin == "pan":
                stage.params["pan"] = pan
    return proj, settings


def tracks(rpp_path: Path):
    return rpp.loads(rpp_path.read_text(encoding="utf-8")).findall("TRACK")


def field(element, name: str) -> list[str]:
    return element.find(name)[1:]


def test_quote_follows_reapers_rules():
    assert quote("plain") == "plain"
    assert quote("two words") == '"two words"'
    assert quote('say "hi"') == "'say \"hi\"'"
    assert quote("it's \"x\"") == "`it's \"x\"`"
    assert quote("a`b 'c' \"d\"") == "`a'b 'c' \"d\"`"
    assert quote("") == '""'
    assert quote("tab\there") == '"tab\there"'
    assert quote("line\nbreak") == '"line break"'
    # and the independent reader gets the text back (backticks, inside backticks, cannot survive)
    for text in ["plain", "two words", 'say "hi"', "it's \"x\"", "Lead Vöx 1", ""]:
        assert rpp.loads(f"<X\n  NAME {quote(text)}\n>\n").find("NAME")[1:] == [text]
    all_three = quote("a`b ' \"")
    assert rpp.loads(f"<X\n  NAME {all_three}\n>\n").find("NAME")[1:] == ["a'b ' \""]


def test_tracks_volumes_pans_items(session):
    proj, settings = session
    out = write_reaper(settings, proj / "out" / "mix.RPP", tempo_bpm=93.5)
    assert out == proj / "out" / "mix.RPP"
    root = rpp.loads(out.read_text(encoding="utf-8"))
    assert root.tag == "REAPER_PROJECT" and root.attrib[:2] == ["0.1", "7.0/automix"]
    assert field(root, "SAMPLERATE") == [str(SR), "0", "0"]
    assert field(root, "TEMPO") == ["93.5", "4", "4"]
    assert field(root, "MASTER_VOLUME") == ["1", "0", "-1", "-1", "1"]
    found = root.findall("TRACK")
    assert len(found) == len(STEMS)
    for track, stem, (name, _, secs, db, pan) in zip(found, settings.stems, STEMS):
        assert field(track, "NAME") == [Path(name).stem]
        volpan = [float(x) for x in field(track, "VOLPAN")]
        assert abs(volpan[0] - 10 ** (db / 20)) < 1e-6 and abs(volpan[1] - pan) < 1e-9
        assert field(track, "MUTESOLO")[0] == "0"
        (item,) = track.findall("ITEM")
        assert float(field(item, "POSITION")[0]) == 0.0
        assert abs(float(field(item, "LENGTH")[0]) - secs) < 1e-9
        assert abs(float(field(item, "VOLPAN")[0]) - 10 ** (stem.input_gain_db / 20)) < 1e-9
        source = item.find("SOURCE")
        assert source.attrib == ["FLAC" if name.endswith(".flac") else "WAVE"]
        media = field(source, "FILE")[0]
        assert not os.path.isabs(media) and media == f"../stems/{name}"
        assert os.path.samefile(out.parent / media, stem.path)


def test_media_resolves_after_moving_the_folder(session, tmp_path):
    proj, settings = session
    write_reaper(settings, proj / "out" / "mix.rpp")
    (tmp_path / "elsewhere").mkdir()
    moved = Path(shutil.move(str(proj), str(tmp_path / "elsewhere" / "moved")))
    assert not proj.exists()
    rpp_path = moved / "out" / "mix.rpp"
    for track, (name, _, _, _, _) in zip(tracks(rpp_path), STEMS):
        media = rpp_path.parent / field(track.find("ITEM").find("SOURCE"), "FILE")[0]
        assert media.is_file() and os.path.samefile(media, moved / "stems" / name)


def test_guids_and_byte_identical_reexport(session):
    proj, settings = session
    first = write_reaper(settings, proj / "out" / "a.rpp")
    second = write_reaper(settings, proj / "out" / "b.rpp")
    assert first.read_bytes() == second.read_bytes()
    guids = []
    for track in tracks(first):
        guids += [track.attrib[0], field(track.find("ITEM"), "IGUID")[0], field(track.find("ITEM"), "GUID")[0]]
    assert all(GUID.match(g) for g in guids) and len(set(guids)) == len(guids)
    assert field(rpp.loads(first.read_text(encoding="utf-8")), "TEMPO") == ["120", "4", "4"]


def test_refuses_existing_output_unless_forced(session):
    proj, settings = session
    out = proj / "out" / "mix.rpp"
    out.write_text("mine", encoding="utf-8")
    with pytest.raises(AutomixError) as err:
        write_reaper(settings, out)
    assert err.value.code == "E_EXISTS" and out.read_text(encoding="utf-8") == "mine"
    write_reaper(settings, out, force=True)
    assert len(tracks(out)) == len(STEMS)
    with pytest.raises(UsageError):
        write_reaper(settings, proj / "out" / "fast.rpp", tempo_bpm=0)
    assert not (proj / "out" / "fast.rpp").exists()


def test_prints_are_muted_tracks_beneath_each_stem(session):
    proj, settings = session
    print_stems(settings, proj / "prints")
    out = write_reaper(settings, proj / "out" / "mix.rpp", prints_folder=proj / "prints")
    found = tracks(out)
    assert len(found) == 2 * len(STEMS) + 1
    seconds = max(s[2] for s in STEMS)  # every print is as long as the longest stem
    for k, (name, _, _, _, _) in enumerate(STEMS):
        stem, printed = found[2 * k], found[2 * k + 1]
        assert field(stem, "MUTESOLO")[0] == "0"
        assert field(printed, "NAME") == [f"{Path(name).stem} (printed)"]
        assert field(printed, "MUTESOLO")[0] == "1"
        assert [float(x) for x in field(printed, "VOLPAN")[:2]] == [1.0, 0.0]  # the print holds fader and pan
        item = printed.find("ITEM")
        assert float(field(item, "VOLPAN")[0]) == 1.0  # and the input gain
        assert abs(float(field(item, "LENGTH")[0]) - seconds) < 1e-9
        media = field(item.find("SOURCE"), "FILE")[0]
        assert media == f"../prints/{print_names(settings)[k]}"
        assert os.path.samefile(out.parent / media, proj / "prints" / print_names(settings)[k])
    master = found[-1]
    assert field(master, "NAME") == ["Master (printed)"] and field(master, "MUTESOLO")[0] == "1"
    assert field(master.find("ITEM").find("SOURCE"), "FILE") == ["../prints/master.wav"]

"""Files automix wrote (mixes, renders) are never taken for stems on the next run."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from automix.audio_io import AtomicWriter, output_tag, written_by_automix
from automix.discovery import discover_sessions
from automix.session import expand_folders
from tests.conftest import music_like

SR = 44100


def _stem(path, seed):
    sf.write(str(path), music_like(SR, SR, 2, seed=seed).T, SR, subtype="PCM_24")
    return path


def _tagged(path):
    with AtomicWriter(path, SR, 2, tag=output_tag()) as w:
        w.write(music_like(SR, SR, 2, seed=9))
        w.commit()
    return path


def test_the_tag_is_in_the_header_and_read_back(tmp_path):
    assert written_by_automix(_tagged(tmp_path / "earlier.flac")) == "automix's tag in its header"
    assert written_by_automix(_stem(tmp_path / "bass.wav", 1)) is None
    # a file named by the mix's sidecars, untagged (written by an older automix or copied): still ours
    plain = _stem(tmp_path / "mixed.wav", 2)
    (tmp_path / "mixed.report.json").write_text("{}")
    assert written_by_automix(plain) == "mixed.report.json beside it"


def test_a_mix_written_into_the_session_folder_is_left_out_with_a_note(tmp_path):
    song = tmp_path / "song"
    song.mkdir()
    stems = [_stem(song / "bass.wav", 1), _stem(song / "drums.wav", 2)]
    _tagged(song / "mix.wav")
    got, lines = expand_folders([str(song)], "rock_punk")
    assert got == [str(p) for p in stems]
    assert any("mix.wav: written by automix" in line and "not a stem" in line for line in lines)
    found = discover_sessions(tmp_path)
    (session,) = found.sessions
    assert [p.rsplit("/", 1)[1] for p in session.stems] == ["bass.wav", "drums.wav"]
    assert any("written by automix" in w for w in session.warnings)


def test_renders_carry_the_tag(tmp_path):
    from automix.render import render_to_file, settings_template

    stems = [str(_stem(tmp_path / "a.wav", 1))]
    render_to_file(settings_template(stems), tmp_path / "out.wav")
    assert written_by_automix(tmp_path / "out.wav") == "automix's tag in its header"
    assert np.isfinite(sf.read(str(tmp_path / "out.wav"))[0]).all()

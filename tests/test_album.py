"""Albums: natural loudness, offsets from the anchor, a batch mastered as one record and its page data."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from automix.album import MAX_OFFSET_LU, OFFSET_SCALE, album_offsets, album_summary, natural_loudness
from automix.constants import REFERENCE_LUFS
from automix.errors import UsageError

SR = 44100


def _noise(path, seed, seconds=4.0, gain=0.1):
    x = gain * np.random.default_rng(seed).standard_normal((int(seconds * SR), 2))
    sf.write(str(path), x, SR, subtype="FLOAT")
    return str(path)


def test_natural_loudness_sums_the_stems_at_equal_loudness(tmp_path):
    one = _noise(tmp_path / "a.wav", 1)
    assert natural_loudness([one]) == pytest.approx(REFERENCE_LUFS, abs=0.01)
    # the same part twice adds in phase: +6 dB; two independent parts add in power: +3 dB
    twin = tmp_path / "b.wav"
    twin.write_bytes((tmp_path / "a.wav").read_bytes())
    assert natural_loudness([one, str(twin)]) == pytest.approx(REFERENCE_LUFS + 20 * math.log10(2), abs=0.02)
    other = _noise(tmp_path / "c.wav", 2, gain=0.02)  # recorded 14 dB quieter: normalised all the same
    assert natural_loudness([one, other]) == pytest.approx(REFERENCE_LUFS + 10 * math.log10(2), abs=0.1)


def test_offsets_keep_half_the_difference_below_the_densest_track():
    offsets = album_offsets({"rocker": -12.0, "ballad": -16.0, "sparse": -30.0, "broken": math.nan})
    assert offsets == {"rocker": 0.0, "ballad": -4.0 * OFFSET_SCALE, "sparse": -MAX_OFFSET_LU, "broken": 0.0}
    tracks = [{"session": "a", "offset_lu": 0.0, "final": {"integrated_lufs": -9.52, "spectral_centroid_hz": 2700.0,
                                                           "ms_ratio": 0.5}},
              {"session": "b", "offset_lu": -2.0, "final": {"integrated_lufs": -11.45, "spectral_centroid_hz": 2500.0,
                                                            "ms_ratio": 0.4}}]
    s = album_summary(tracks)
    assert s["tracks"][1]["landed_offset_lu"] == pytest.approx(-1.93)
    assert s["max_offset_error_lu"] == pytest.approx(0.07)
    assert s["centroid_sd_hz"] == pytest.approx(np.std([2700, 2500], ddof=1))


@pytest.fixture(scope="module")
def album(tmp_path_factory):
    from automix.batch.runner import run_batch
    from automix.sessiongen import write_sessions

    root = tmp_path_factory.mktemp("album")
    write_sessions(root / "in", 4, seed=30, duration_s=4.0)
    result = run_batch(root / "in", root / "out", style="rock_punk", jobs=2, handle_signals=False, album=True)
    return root, result


def test_an_album_lands_each_track_at_its_intended_offset(album):
    root, result = album
    assert result.exit_code in (0, 1)
    info = json.loads((root / "out" / "summary.json").read_text())["album"]
    assert info["style"] == "rock_punk" and info["anchor_lufs"] == -9.5
    offsets = {t["session"]: t["offset_lu"] for t in info["tracks"]}
    assert max(offsets.values()) == 0.0 and min(offsets.values()) >= -MAX_OFFSET_LU
    naturals = {t["session"]: t["natural_lufs"] for t in info["tracks"]}
    assert album_offsets(naturals) == offsets
    finals = {}
    for name in offsets:
        x, sr = sf.read(str(root / "out" / name / "mix.wav"), dtype="float64", always_2d=True)
        from automix.meters import analyze

        finals[name] = analyze(x.T, sr)["integrated_lufs"]
    top = max(offsets, key=offsets.get)
    for name, off in offsets.items():
        assert abs((finals[name] - finals[top]) - off) <= 0.5, (name, finals[name], off)


def test_the_dashboard_data_holds_the_album(album):
    from automix.pages import batch_page

    root, _ = album
    page = batch_page(root / "out")
    block = page["album"]
    assert len(block["tracks"]) == 4 and all(t["final"] for t in block["tracks"])
    assert block["max_offset_error_lu"] <= 0.5
    assert batch_page(root / "out")["album"] == block


def test_an_album_needs_one_style(tmp_path):
    from automix.batch.runner import run_batch
    from automix.sessiongen import write_sessions

    write_sessions(tmp_path / "in", 2, seed=50, duration_s=3.0)
    first = sorted((tmp_path / "in").iterdir())[0]
    (first / "automix.yaml").write_text("style: rnb_ballad\n")
    with pytest.raises(UsageError, match="one style"):
        run_batch(tmp_path / "in", tmp_path / "out", style="rock_punk", jobs=1, handle_signals=False, album=True)

"""Lossy delivery encodes: written by PyAV (FFmpeg), read back by an independent decoder (libsndfile's
mpg123 and libopus through soundfile) where one exists, and masters made safe for their decoded peaks."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from automix.codecs import CODECS, decode, decoded_true_peak, encode, encoded_path, parse_codecs
from automix.errors import UsageError
from automix.meters import analyze
from tests.conftest import music_like

SR = 44100


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """4 s of music-like stereo limited hard at -1 dBFS sample peak: the kind of master whose decodes overshoot."""
    folder = tmp_path_factory.mktemp("codec")
    x = music_like(4 * SR, SR, channels=2, seed=12).astype(np.float64)
    x = np.tanh(3.0 * x / np.abs(x).max()) * 10 ** (-1 / 20)
    path = folder / "master.wav"
    sf.write(str(path), x.T, SR, subtype="PCM_24")
    return path, x


def test_unknown_codecs_name_the_valid_ones():
    with pytest.raises(UsageError, match="choose from mp3, aac, opus"):
        parse_codecs("mp3,wma")
    assert [c.name for c in parse_codecs("aac, mp3,aac")] == ["aac", "mp3"]


@pytest.mark.parametrize("name", list(CODECS))
def test_an_encode_decodes_to_the_master_at_its_level(master, name):
    path, x = master
    codec = CODECS[name]
    out = encoded_path(path, codec)
    encode(path, out, codec)
    y, rate = decode(out)
    assert rate == (codec.rate or SR) and y.shape[0] == 2
    assert abs(y.shape[1] / rate - x.shape[1] / SR) < 0.1, "same duration (codec padding aside)"
    level = analyze(x, SR)["integrated_lufs"]
    assert analyze(y, rate)["integrated_lufs"] == pytest.approx(level, abs=0.3)
    if name in ("mp3", "opus"):  # libsndfile reads these with its own decoders: the same peaks
        z, zr = sf.read(str(out), dtype="float64", always_2d=True)
        assert zr == rate and analyze(z.T, zr)["true_peak_dbtp"] == pytest.approx(decoded_true_peak(out), abs=0.1)
    assert not list(path.parent.glob("*.partial*"))


def test_a_codecs_encoder_options_reach_the_encoder(master, tmp_path):
    """The AAC encode's options (PNS and intensity stereo off) are handed to FFmpeg: a bad one is refused by it,
    and no partial file is left behind."""
    import dataclasses

    import av

    assert dict(CODECS["aac"].options) == {"aac_pns": "0", "aac_is": "0"}
    path, _ = master
    bad = dataclasses.replace(CODECS["aac"], options=(("aac_coder", "no-such-coder"),))
    with pytest.raises(av.error.ArgumentError):
        encode(path, tmp_path / "bad.m4a", bad)
    assert not list(tmp_path.iterdir())


def test_a_mix_is_mastered_until_every_decode_meets_the_ceiling(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "automix", "mix", "--test-stems", "3", "--style", "rock_punk",
                           "-o", str(tmp_path / "m.wav"), "--no-html", "--codec-check", "mp3,opus"],
                          capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads((tmp_path / "m.report.json").read_text())
    check = report["codec_check"]
    ceiling = report["targets"]["true_peak_dbtp"]["ceiling"]
    for f in (tmp_path / "m.mp3", tmp_path / "m.opus"):  # measured here, with libsndfile's decoders
        z, zr = sf.read(str(f), dtype="float64", always_2d=True)
        assert analyze(z.T, zr)["true_peak_dbtp"] <= ceiling + 0.05, f
    assert check["pass"] and check["headroom_taken_db"] >= 0
    last = check["passes"][-1]
    assert max(last["decoded_true_peak_dbtp"].values()) <= ceiling
    if len(check["passes"]) > 1:  # a pass over the ceiling lowered the limiter's by at least the overshoot
        first = check["passes"][0]
        over = max(first["decoded_true_peak_dbtp"].values()) - ceiling
        assert last["limiter_ceiling_db"] <= first["limiter_ceiling_db"] - over
    limiter = next(p for p in json.loads((tmp_path / "m.settings.json").read_text())["master"]["chain"]
                   if p["plugin"] == "limiter")["params"]
    assert limiter["ceiling_db"] == last["limiter_ceiling_db"], "the settings re-render the codec-safe master"
    assert abs(analyze(sf.read(str(tmp_path / "m.wav"), always_2d=True)[0].T, 44100)["integrated_lufs"]
               - report["targets"]["integrated_lufs"]["target"]) <= 0.1


@pytest.mark.parametrize("ceiling, lufs, drop", [(-2.05, -14.0, 3.45), (-1.05, -14.0, 4.45), (-1.05, -9.5, 2.0),
                                                 (-1.0, -16.0, 6.5), (-1.0, -11.0, 2.0)])
def test_the_codec_check_limits_no_harder_than_the_loudest_preset(ceiling, lufs, drop):
    """A quiet delivery (-14 LUFS) may take its ceiling down to 8.5 dB over its loudness, rock_punk's own
    peak-to-loudness ratio; a loud master keeps the 2 dB cap."""
    from automix.mixer import codec_max_drop_db

    assert codec_max_drop_db(ceiling, lufs) == pytest.approx(drop)


def test_a_master_whose_decodes_overshoot_more_the_harder_it_is_limited_is_turned_down(tmp_path, monkeypatch):
    """A stand-in codec whose decode peaks (10 - PLR) dB over the master: limiting harder (a lower ceiling at the
    same loudness) only makes it worse, so the check turns the master down, loudness and ceiling together, and
    says so; the written master measures what the report says."""
    import shutil

    import automix.codecs as codecs_module
    from automix.mixer import CODEC_TURN_DOWN_LU, mix_session
    from automix.sessiongen import generate_stems
    from automix.styles import get_style

    def overshoot_peak(path):
        z, zr = sf.read(str(path), dtype="float64", always_2d=True)
        m = analyze(z.T, zr)
        return m["true_peak_dbtp"] + max(0.0, 10.0 - (m["true_peak_dbtp"] - m["integrated_lufs"]))

    monkeypatch.setattr(codecs_module, "encode", lambda master, out, codec: shutil.copyfile(master, out))
    monkeypatch.setattr(codecs_module, "decoded_true_peak", overshoot_peak)
    paths = []
    for role, x in generate_stems(5, duration_s=10.0, n_stems=4).items():
        paths.append(str(tmp_path / f"{role}.wav"))
        sf.write(paths[-1], x.T, SR, subtype="FLOAT")
    style = get_style("rock_punk")
    report = mix_session(paths, style=style, output=tmp_path / "m.wav", codecs=[CODECS["mp3"]])
    check = report["codec_check"]
    assert check["pass"] and 0 < check["loudness_lowered_lu"] <= CODEC_TURN_DOWN_LU
    first, last = check["passes"][0], check["passes"][-1]
    assert first["decoded_true_peak_dbtp"]["mp3"] > style.true_peak_ceiling_dbtp
    assert last["decoded_true_peak_dbtp"]["mp3"] <= style.true_peak_ceiling_dbtp
    assert last["target_lufs"] == pytest.approx(style.lufs - check["loudness_lowered_lu"])
    m = analyze(_read_master(tmp_path / "m.wav"), SR)
    assert m["integrated_lufs"] == pytest.approx(last["target_lufs"], abs=0.1)
    assert overshoot_peak(tmp_path / "m.wav") <= style.true_peak_ceiling_dbtp
    lu = report["targets"]["integrated_lufs"]
    assert not lu["pass"] and "turned down" in lu["why"] and report["status"] != "ok"


def _read_master(path):
    return sf.read(str(path), dtype="float64", always_2d=True)[0].T

"""Styles learned from a folder of finished masters: means, spread, validation, z-scores in reports."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import yaml

from automix.errors import StyleError
from automix.learn import MIN_MASTERS, TOLERANCE_BOUNDS, write_learned
from automix.meters import analyze
from automix.styles import load_style_targets
from tests.conftest import music_like

SR = 44100


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    """Five 'masters' of different loudness and brightness, plus a broken file and a text file."""
    from scipy.signal import butter, sosfilt

    folder = tmp_path_factory.mktemp("masters")
    for k in range(5):
        x = music_like(6 * SR, SR, 2, seed=40 + k).astype(np.float64)
        x = 0.5 * x + 0.5 * sosfilt(butter(2, 1500 + 1000 * k, "low", fs=SR, output="sos"), x)
        x[1] = 0.8 * x[1] + 0.2 * np.roll(x[0], 300 * (k + 1))
        x = np.tanh(2.0 * x / np.abs(x).max()) * 10 ** ((-1 - 1.2 * k) / 20)
        sf.write(str(folder / f"song {k}.wav"), x.T, SR, subtype="PCM_24")
    (folder / "broken.wav").write_bytes(b"RIFF....")
    (folder / "notes.txt").write_text("liner notes")
    return folder


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "automix", *map(str, args)], capture_output=True, text=True)


def test_the_targets_are_the_means_and_the_tolerances_the_spread(masters, tmp_path):
    out = tmp_path / "mine.yaml"
    lines = write_learned(masters, "mine", out)
    meters = [analyze(sf.read(str(p), dtype="float64", always_2d=True)[0].T, SR)
              for p in sorted(masters.glob("song *.wav"))]
    style = load_style_targets(out)["mine"]
    lufs = np.array([m["integrated_lufs"] for m in meters])
    centroid = np.array([m["spectral_centroid_hz"] for m in meters])
    ms = np.array([m["ms_ratio"] for m in meters])
    assert style.lufs == pytest.approx(lufs.mean(), abs=0.01)
    assert style.spectral_centroid_hz == pytest.approx(centroid.mean(), abs=0.1)
    assert style.stereo_ms_ratio == pytest.approx(ms.mean(), abs=0.001)
    for band, share in zip(("low", "mid", "high"), style.frequency_balance.as_tuple()):
        assert share == pytest.approx(np.mean([m["band_balance"][band] for m in meters]), abs=0.002)
    assert style.spread["count"] == 5
    assert style.spread["lufs"] == pytest.approx(lufs.std(ddof=1), abs=1e-3)
    lo, hi = TOLERANCE_BOUNDS["lufs_lu"]
    assert style.tolerances.lufs_lu == pytest.approx(min(max(lufs.std(ddof=1), lo), hi), abs=1e-3)
    lo, hi = TOLERANCE_BOUNDS["centroid_rel"]
    assert style.tolerances.centroid_rel == pytest.approx(min(max(centroid.std(ddof=1) / centroid.mean(), lo), hi),
                                                          abs=1e-3)
    assert style.extends in ("rock_punk", "rnb_ballad", "country_pop")
    assert any("broken.wav" in ln for ln in lines), "the unreadable file is named, the rest is learned"
    assert load_style_targets(out)["mine"] == style, "loads back the same"
    assert write_learned(masters, "other", tmp_path / "o.yaml", extends="country_pop") and \
        load_style_targets(tmp_path / "o.yaml")["other"].extends == "country_pop"


def test_a_learned_style_validates_as_strictly_as_a_written_one(masters, tmp_path):
    out = tmp_path / "mine.yaml"
    write_learned(masters, "mine", out)
    data = yaml.safe_load(out.read_text())
    for change, match in ((lambda s: s["spread"].update(count=1), "count"),
                          (lambda s: s["spread"].pop("lufs"), "missing 'lufs'"),
                          (lambda s: s["spread"].update(lufs=-1.0), "spread.lufs"),
                          (lambda s: s["spread"].update(extra=1.0), "extra")):
        bad = json.loads(json.dumps(data))
        change(bad["mine"])
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(bad))
        with pytest.raises(StyleError, match=match):
            load_style_targets(path)


def test_too_few_masters_or_an_existing_output_stop_it_in_one_line(masters, tmp_path):
    few = tmp_path / "few"
    few.mkdir()
    for p in sorted(masters.glob("song *.wav"))[: MIN_MASTERS - 1]:
        (few / p.name).write_bytes(p.read_bytes())
    proc = _cli("styles", "learn", few, "--name", "x", "-o", tmp_path / "x.yaml")
    assert proc.returncode == 2 and "at least 3" in proc.stderr and not (tmp_path / "x.yaml").exists()
    (tmp_path / "y.yaml").write_text("keep me")
    proc = _cli("styles", "learn", masters, "--name", "y", "-o", tmp_path / "y.yaml")
    assert proc.returncode == 2 and "--force" in proc.stderr and (tmp_path / "y.yaml").read_text() == "keep me"
    assert _cli("styles", "--json").returncode == 0, "the listing still works beside the subcommand"


def test_a_mix_to_a_learned_style_reports_each_targets_z_score(masters, tmp_path):
    out = tmp_path / "mine.yaml"
    write_learned(masters, "mine", out)
    proc = _cli("mix", "--test-stems", "3", "--targets", out, "--style", "mine", "-o", tmp_path / "m.wav", "--no-html")
    assert proc.returncode in (0, 1), proc.stderr
    targets = json.loads((tmp_path / "m.report.json").read_text())["targets"]
    spread = load_style_targets(out)["mine"].spread
    t = targets["spectral_centroid_hz"]
    assert t["z"] == pytest.approx((t["final"] - t["target"]) / spread["spectral_centroid_hz"], abs=1e-3)
    t = targets["integrated_lufs"]
    assert t["z"] == pytest.approx((t["final"] - t["target"]) / spread["lufs"], abs=1e-3)
    assert set(targets["band_balance"]["z"]) == {"low", "mid", "high"}
    assert " z " in proc.stdout

"""The Python API as the original specification wrote it (automix.api.AutoMixChain, load_style_targets)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from automix.errors import ParameterError
from automix.sessiongen import generate_stems
from tests.conftest import SEED_TARGETS



@pytest.fixture(scope="module")
def session():
    """Four short generated stems, (channels, samples) float32: "Kit" and "Gtr" (stereo), "Bass" and "Vocal" (mono)."""
    return generate_stems(24, duration_s=6.0, n_stems=4)


def _check_mix(mixed, analysis, target_lufs, n):
    assert isinstance(mixed, torch.Tensor) and mixed.dtype == torch.float32
    assert mixed.shape == (2, n)
    assert torch.isfinite(mixed).all() and mixed.abs().max() < 1.0
    assert analysis["status"] == "ok"
    assert abs(analysis["lufs"] - target_lufs) <= 0.1
    assert analysis["lufs_error"] == pytest.approx(analysis["lufs"] - target_lufs, abs=1e-3)
    assert analysis["true_peak"] <= -1.0 + 1e-3
    assert 0.0 <= analysis["ms_ratio"] < 1.5
    assert sum(analysis["band_balance"].values()) == pytest.approx(1.0, abs=1e-3)


def test_the_seed_example_runs_as_written(session, capsys):
    # the original example, with only the package name in the import changed
    from automix import AutoMixChain, load_style_targets
    targets = load_style_targets()
    print(targets['rock_punk']['lufs'])
    auto_mix = AutoMixChain(n_stems=4, style_targets=targets)
    stems = [torch.from_numpy(x) for x in session.values()]   # a list of (channels, samples) tensors
    mixed_audio, analysis = auto_mix(stems, style='rock_punk')
    print(analysis['lufs'], analysis['lufs_error'])

    assert capsys.readouterr().out.splitlines()[0] == "-9.5"
    assert sorted({s.shape[0] for s in stems}) == [1, 2]  # mono and stereo stems in one list
    _check_mix(mixed_audio, analysis, -9.5, stems[0].shape[1])
    assert analysis["style"] == "rock_punk"
    assert analysis["targets"]["lufs"] == -9.5
    assert analysis["targets"]["frequency_balance"] == pytest.approx(
        {"low_energy": 0.25, "mid_energy": 0.416667, "high_energy": 0.333333})
    json.dumps({k: v for k, v in analysis.items() if k != "report"}, allow_nan=False)


def test_the_seed_targets_file_steers_a_mix(tmp_path, session):
    from automix import AutoMixChain, load_style_targets

    path = tmp_path / "seed.yaml"
    path.write_text(SEED_TARGETS)
    targets = load_style_targets(path)
    style = targets["rock_punk"]
    assert style["lufs"] == -9.5 and style.source == str(path)
    # the seed's shorthand is the stems' compressor; its roles have no chains, so every role gets it
    # (in a style with role chains, a role's own compressor overrides it: see tests/test_styles.py)
    for role in ("stem", "vocal", "kick", "bass"):
        assert style.chain_defaults(role)["compressor"] == {"threshold_db": -18.0, "ratio": 4.0, "attack_ms": 10.0,
                                                           "release_ms": 100.0}
    # stereo tensors with 1-D and (1, n) mono stems, named so roles come from the names; a path works too
    stems = [torch.from_numpy(x[0]) if x.shape[0] == 1 and name == "Bass" else torch.from_numpy(x)
             for name, x in session.items()]
    auto_mix = AutoMixChain(n_stems=4, style_targets=str(path))
    mixed, analysis = auto_mix(stems, style="rock_punk", names=list(session))
    _check_mix(mixed, analysis, -9.5, stems[0].shape[-1])
    report = analysis["report"]
    assert report["targets"]["band_balance"]["target"] == pytest.approx({"low": 0.25, "mid": 0.4167, "high": 0.3333},
                                                                        abs=1e-4)
    assert report["targets"]["spectral_centroid_hz"]["target"] == 2800.0
    assert report["targets"]["ms_ratio"]["target"] == 0.6
    assert sorted(s["role"] for s in report["stems"]) == ["bass", "drums", "guitar", "vocal"]
    assert analysis["targets"]["frequency_balance"]["low_energy"] == 0.25


def test_the_seed_targets_file_through_the_cli(tmp_path):
    from click.testing import CliRunner

    from automix.cli import main

    path = tmp_path / "seed.yaml"
    path.write_text(SEED_TARGETS)
    out = tmp_path / "mix.wav"
    result = CliRunner().invoke(main, ["mix", "--test-stems", "4", "--targets", str(path), "--style", "rock_punk",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.with_name("mix.report.json").read_text())
    assert report["style"] == "rock_punk"
    lufs = report["targets"]["integrated_lufs"]
    assert lufs["target"] == -9.5 and abs(lufs["final"] + 9.5) <= 0.1
    assert report["targets"]["band_balance"]["target"] == pytest.approx({"low": 0.25, "mid": 0.4167, "high": 0.3333},
                                                                        abs=1e-4)


def test_bad_stem_shapes_and_counts_are_refused():
    from automix import AutoMixChain, load_style_targets

    auto_mix = AutoMixChain(n_stems=2, style_targets=load_style_targets()["country_pop"])
    assert list(auto_mix.style_targets) == ["country_pop"]
    with pytest.raises(ParameterError, match="made for 2 stems but got 1"):
        auto_mix([np.zeros((2, 100), np.float32)], style="country_pop")
    with pytest.raises(ParameterError, match=r"stem 1: shape \(100, 2\) is not"):
        auto_mix([np.zeros((2, 100), np.float32), np.zeros((100, 2), np.float32)], style="country_pop")

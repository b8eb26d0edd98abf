"""Delivery: the specs, what services do with a master, the delivered formats (rate, word length, dither),
and mix / render / batch mastering to several specs from one mix."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from automix.delivery import Platform, parse_specs, playback, specs, spec_checks, styled
from automix.errors import OutputError, UsageError
from automix.finish import Finisher, OutputFormat, check_format
from automix.meters import analyze
from automix.styles import get_style

ISSUE_SPECS = {"spotify", "apple_music", "youtube", "amazon_music", "tidal", "deezer", "ebu_r128", "ebu_r128_s1",
               "atsc_a85", "cd"}


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "automix", *map(str, args)], capture_output=True, text=True, cwd=cwd)


# --------------------------------------------------------------------------------------------------- specs


def test_every_spec_has_its_numbers_and_a_source():
    all_specs = specs()
    assert ISSUE_SPECS <= set(all_specs)
    for s in all_specs.values():
        assert s.label and len(s.source) > 40, s.name
        assert s.lufs is None or -31 <= s.lufs <= -5
        assert s.true_peak_dbtp is None or -6 <= s.true_peak_dbtp <= 0
        assert s.lufs_tolerance is None or 0 < s.lufs_tolerance <= 2
    assert (all_specs["ebu_r128"].lufs, all_specs["ebu_r128"].tolerance_lu) == (-23.0, 0.5)
    assert (all_specs["atsc_a85"].lufs, all_specs["atsc_a85"].true_peak_dbtp) == (-24.0, -2.0)
    assert all_specs["spotify"].tolerance_lu == 0.1, "a single value is met within 0.1 LU"
    assert (all_specs["cd"].bits, all_specs["cd"].rate, all_specs["cd"].lufs) == ("16", 44100, None)


def test_the_list_shows_every_spec_with_its_source():
    proc = _cli("deliver", "--list")
    assert proc.returncode == 0
    for name, s in specs().items():
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(name + " "))
        assert s.source in line
    rows = json.loads(_cli("deliver", "--list", "--json").stdout)
    assert {r["name"] for r in rows} == set(specs())


def test_unknown_or_repeated_specs_are_usage_errors_naming_the_valid_ones(tmp_path):
    with pytest.raises(UsageError, match="choose from spotify, apple_music"):
        parse_specs("spotify,napster")
    with pytest.raises(UsageError, match="twice"):
        parse_specs("cd,cd")
    proc = _cli("mix", "--test-stems", "2", "--style", "rock_punk", "-o", tmp_path / "m.wav", "--deliver", "napster")
    assert proc.returncode == 2 and "napster" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [], "nothing written, not even the synthetic stems"


def test_a_spec_overrides_loudness_ceiling_and_tolerance_only():
    style = get_style("rock_punk")
    r128 = styled(style, specs()["ebu_r128"])
    assert (r128.lufs, r128.true_peak_ceiling_dbtp, r128.tolerances.lufs_lu) == (-23.0, -1.0, 0.1)
    assert r128.spectral_centroid_hz == style.spectral_centroid_hz and r128.envelope == style.envelope
    cd = styled(style, specs()["cd"])
    assert (cd.lufs, cd.true_peak_ceiling_dbtp) == (style.lufs, style.true_peak_ceiling_dbtp)
    checks = spec_checks(specs()["ebu_r128_s1"], {"integrated_lufs": -23.3, "true_peak_dbtp": -1.2,
                                                   "short_term_max_lufs": -17.5}, style)
    assert checks["integrated_lufs"]["pass"] and checks["true_peak_dbtp"]["pass"]
    assert not checks["short_term_max_lufs"]["pass"]


@pytest.mark.parametrize("lufs, tp, platform, gain, capped", [
    (-9.0, -1.0, Platform(-14.0, True, -1.0, False), -5.0, False),     # louder: turned down
    (-18.0, -6.0, Platform(-14.0, True, -1.0, False), 4.0, False),     # quieter with headroom: turned up
    (-18.0, -3.0, Platform(-14.0, True, -1.0, False), 2.0, True),      # quieter, the peaks stop it at -1 dBTP
    (-18.0, -3.0, Platform(-14.0, False, None, False), 0.0, False),    # a service that never turns up
    (-18.0, -3.0, Platform(-14.0, True, -1.0, True), 4.0, False),      # a limiter lets it through
])
def test_what_a_service_does_to_a_master(lufs, tp, platform, gain, capped):
    out = playback({"integrated_lufs": lufs, "true_peak_dbtp": tp}, platform)
    assert out["gain_db"] == pytest.approx(gain) and out["capped_by_peaks"] is capped
    assert out["plays_at_lufs"] == pytest.approx(lufs + gain)
    assert out["limited"] is (platform.limiter and tp + out["gain_db"] > platform.up_to_peak_dbtp)


# ------------------------------------------------------------------------------------------------ formats


def test_16_bit_is_tpdf_dithered_onto_the_grid_and_reproducible():
    n = 200_000
    silent = np.zeros((2, n), np.float32)
    out = Finisher(44100, OutputFormat("16")).process(silent)
    lsb = out.astype(np.float64) * 32767.0
    assert np.allclose(lsb, np.round(lsb), atol=1e-4), "every value on the 16-bit grid"
    values, counts = np.unique(np.round(lsb), return_counts=True)
    share = dict(zip(values.tolist(), (counts / counts.sum()).tolist()))
    # triangular density on (-1, 1) LSB, rounded: P(+-1) = 1/8 each, P(0) = 3/4
    assert set(share) == {-1.0, 0.0, 1.0}
    assert share[0.0] == pytest.approx(0.75, abs=0.005) and share[1.0] == pytest.approx(0.125, abs=0.005)
    assert np.array_equal(out, Finisher(44100, OutputFormat("16")).process(silent))
    # on music the total error is rounding plus dither: 1/12 + 1/6 = 1/4 LSB^2, independent of the signal
    t = np.arange(n) / 44100
    x = (0.1 * np.sin(2 * np.pi * 997 * t)).astype(np.float32)[None].repeat(2, 0)
    err = (Finisher(44100, OutputFormat("16")).process(x).astype(np.float64) - x) * 32767.0
    assert err.var() == pytest.approx(0.25, rel=0.05) and abs(err.mean()) < 0.01
    assert OutputFormat("24").subtype == "PCM_24"
    assert np.array_equal(Finisher(44100, OutputFormat("24")).process(x), x)


def test_rate_conversion_streams_what_soxr_makes_in_one_call():
    import soxr

    sr, n = 44100, 44100 * 2 + 77
    t = np.arange(n) / sr
    x = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t), 0.25 * np.sin(2 * np.pi * 3000 * t)]).astype(np.float32)
    f = Finisher(sr, OutputFormat("32f", 48000))
    parts = [f.process(x[:, s:s + 4096]) for s in range(0, n, 4096)] + [f.flush()]
    y = np.concatenate(parts, axis=1)
    ref = soxr.resample(x.T, sr, 48000, quality="VHQ").T
    assert y.shape == ref.shape == (2, round(n * 48000 / sr))
    assert np.max(np.abs(y - ref)) < 1e-5
    mid = y[0, 4800:-4800]
    assert np.sqrt(np.mean(mid ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)


@pytest.mark.parametrize("path, fmt, ok", [
    ("a.flac", OutputFormat("32f"), False), ("a.flac", OutputFormat("16"), True), ("a.aiff", OutputFormat("32f"), True),
    ("a.wav", OutputFormat("24", 12345), False), ("a.wav", OutputFormat("24", 96000), True),
])
def test_formats_are_checked_before_any_work(path, fmt, ok):
    if ok:
        check_format(path, fmt)
    else:
        with pytest.raises(OutputError):
            check_format(path, fmt)


# ------------------------------------------------------------------------------------- mixing to specs


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """One ``automix mix`` of three synthetic stems to rock_punk, delivered to spotify, apple_music, cd and
    ebu_r128_s1."""
    root = tmp_path_factory.mktemp("deliver")
    proc = _cli("mix", "--test-stems", "3", "--style", "rock_punk", "-o", root / "m.wav", "--no-html",
                "--deliver", "spotify,apple_music,cd,ebu_r128_s1")
    assert proc.returncode in (0, 1), proc.stderr
    return root, proc


def _measure(path):
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return analyze(x.T, sr), sf.info(str(path))


def test_each_spec_gets_a_master_that_meets_it_measured_from_the_file(delivered):
    root, proc = delivered
    report = json.loads((root / "m.report.json").read_text())
    files = {"spotify": root / "m.wav", "apple_music": root / "m.apple_music.wav", "cd": root / "m.cd.wav",
             "ebu_r128_s1": root / "m.ebu_r128_s1.wav"}
    style = get_style("rock_punk")
    for name, path in files.items():
        spec = specs()[name]
        meters, info = _measure(path)
        lufs = spec.lufs if spec.lufs is not None else style.lufs
        ceiling = spec.true_peak_dbtp if spec.true_peak_dbtp is not None else style.true_peak_ceiling_dbtp
        assert abs(meters["integrated_lufs"] - lufs) <= spec.tolerance_lu, (name, meters["integrated_lufs"])
        assert meters["true_peak_dbtp"] <= ceiling + 1e-6, (name, meters["true_peak_dbtp"])
        entry = next(d for d in report["delivery"] if d["spec"] == name)
        assert entry["pass"] and entry["output"] == str(path)
        assert entry["integrated_lufs"] == pytest.approx(meters["integrated_lufs"], abs=0.01)
    cd_meters, cd_info = _measure(files["cd"])
    assert (cd_info.subtype, cd_info.samplerate) == ("PCM_16", 44100)
    assert _measure(files["spotify"])[1].subtype == "PCM_24"
    assert [d["spec"] for d in report["delivery"]] == list(files)
    assert report["targets"]["integrated_lufs"]["target"] == -14.0, "the output is mastered to the first spec"
    plays = {p["spec"]: p for p in report["playback"]}
    assert plays["apple_music"]["gain_db"] == pytest.approx(-16.0 - report["final_meters"]["integrated_lufs"])
    assert "delivered CD (Red Book): m.cd.wav, 16-bit 44100 Hz (TPDF dither)" in proc.stdout


def test_render_delivers_from_settings_at_another_rate(delivered, tmp_path):
    root, _ = delivered
    out = tmp_path / "r.wav"
    proc = _cli("render", "--settings", root / "m.settings.json", "-o", out, "--deliver", "atsc_a85,youtube",
                "--rate", "48000")
    assert proc.returncode == 0, proc.stderr
    meters, info = _measure(out)
    assert info.samplerate == 48000 and abs(meters["integrated_lufs"] + 24.0) <= 2.0
    assert meters["true_peak_dbtp"] <= -2.0
    assert abs(_measure(tmp_path / "r.youtube.wav")[0]["integrated_lufs"] + 14.0) <= 0.1
    needs_style = _cli("render", "--settings", root / "m.settings.json", "-o", tmp_path / "c.wav", "--deliver", "cd")
    assert needs_style.returncode == 2 and "--style" in needs_style.stderr and not (tmp_path / "c.wav").exists()


def test_a_batch_delivers_every_session_and_records_the_masters(tmp_path):
    from automix.batch.runner import run_batch
    from automix.sessiongen import write_sessions

    write_sessions(tmp_path / "in", 1, seed=21, duration_s=4.0)
    result = run_batch(tmp_path / "in", tmp_path / "out", style="country_pop", jobs=1, handle_signals=False,
                       deliver="deezer,cd", html=False)
    assert result.exit_code in (0, 1)
    folder = next((tmp_path / "out").glob("session-*"))
    report = json.loads((folder / "report.json").read_text())
    assert report["outputs"]["master:cd"]["file"] == "mix.cd.wav"
    assert sf.info(str(folder / "mix.cd.wav")).subtype == "PCM_16"
    assert abs(_measure(folder / "mix.wav")[0]["integrated_lufs"] + 15.0) <= 0.1
    assert [d["spec"] for d in report["mix"]["delivery"]] == ["deezer", "cd"]
    again = run_batch(tmp_path / "in", tmp_path / "out", style="country_pop", jobs=1, handle_signals=False,
                      deliver="deezer,cd", html=False)
    assert again.counts.get("skipped") == (1 if report["status"] == "ok" else None)

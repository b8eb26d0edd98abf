"""Mixing toward a reference track: what is measured, what is refused, and the report's distances."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from automix.errors import SessionError
from automix.meters import analyze
from automix.reference import (OCTAVES_HZ, measure_reference, octave_levels_db, spectrum_distance_db,
                               styled_from_reference)
from automix.styles import get_style
from tests.conftest import music_like

SR = 44100


def _track(path, seconds=12.0, sr=SR, level_db=-3.0, seed=2):
    x = music_like(int(seconds * sr), sr, 2, seed=seed).astype(np.float64)
    x[1] = 0.7 * x[1] + 0.3 * np.roll(x[0], 200)
    x = x / np.abs(x).max() * 10 ** (level_db / 20)
    sf.write(str(path), x.T, sr, subtype="PCM_24")
    return x


def test_the_reference_is_measured_with_the_reports_meters(tmp_path):
    x = _track(tmp_path / "ref.wav")
    ref = measure_reference(tmp_path / "ref.wav")
    m = analyze(sf.read(str(tmp_path / "ref.wav"), dtype="float64", always_2d=True)[0].T, SR)
    assert ref.integrated_lufs == pytest.approx(m["integrated_lufs"])
    assert ref.spectral_centroid_hz == pytest.approx(m["spectral_centroid_hz"])
    assert ref.ms_ratio == pytest.approx(m["ms_ratio"]) and ref.loudness_range_lu == pytest.approx(m["loudness_range_lu"])
    assert len(ref.octave_db) == len(OCTAVES_HZ) and np.all(np.isfinite(ref.octave_db))
    assert x.shape[0] == 2


def test_octave_levels_and_the_loudness_matched_distance_in_closed_form():
    t = np.arange(4 * SR) / SR
    sine = np.stack([np.sin(2 * np.pi * 1000 * t)] * 2)
    levels = octave_levels_db(sine, SR)
    k = OCTAVES_HZ.index(1000.0)
    assert levels[k] - np.delete(levels, k).max() > 40, "a 1 kHz tone lives in the 1 kHz octave"
    noise = np.random.default_rng(0).standard_normal((2, 4 * SR))
    a = octave_levels_db(noise, SR)
    assert spectrum_distance_db(a, -20.0, a, -20.0) == 0.0
    # a pure gain moves every band and the loudness by the same dB: nothing left after loudness matching
    b = octave_levels_db(noise * 10 ** (6 / 20), SR)
    assert spectrum_distance_db(b, -14.0, a, -20.0) == pytest.approx(0.0, abs=1e-9)
    # one band 6 dB up over eight: RMS sqrt(6^2 / 8) around a mean shift the loudness match does not remove
    tilted = a.copy()
    tilted[0] += 6.0
    assert spectrum_distance_db(tilted, -20.0, a, -20.0) == pytest.approx(np.sqrt(36 / 8))


def test_a_reference_replaces_the_targets_inside_the_schema(tmp_path):
    _track(tmp_path / "ref.wav")
    ref = measure_reference(tmp_path / "ref.wav")
    base = get_style("rock_punk")
    s = styled_from_reference(base, ref)
    assert s.lufs == pytest.approx(ref.integrated_lufs, abs=0.005)
    assert s.spectral_centroid_hz == pytest.approx(ref.spectral_centroid_hz, abs=0.05)
    assert s.true_peak_ceiling_dbtp == base.true_peak_ceiling_dbtp and s.envelope == base.envelope
    loud = styled_from_reference(base, type(ref)(**{**ref.__dict__, "integrated_lufs": -3.0}))
    assert loud.lufs == -5.0, "held at the loudest the schema allows under the ceiling"


@pytest.mark.parametrize("make, code", [
    (lambda p: sf.write(str(p), np.zeros((12 * SR, 2)), SR), "E_SILENT"),
    (lambda p: _track(p, seconds=4.0), "E_TOO_SHORT"),
    (lambda p: sf.write(str(p), np.repeat(music_like(12 * SR, SR, 1, seed=1).T, 2, axis=1), SR), "E_CHANNELS"),
    (lambda p: p.write_bytes(b"not audio at all"), "E_UNREADABLE"),
])
def test_an_unusable_reference_is_one_line_with_its_code(tmp_path, make, code):
    path = tmp_path / "ref.wav"
    make(path)
    with pytest.raises(SessionError) as e:
        measure_reference(path)
    assert e.value.code == code and str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_reference_at_another_rate_is_measured_at_its_own(tmp_path):
    _track(tmp_path / "ref48.wav", sr=48000)
    assert measure_reference(tmp_path / "ref48.wav").sample_rate == 48000


def test_a_mix_toward_a_reference_reports_its_distances(tmp_path):
    _track(tmp_path / "ref.wav", level_db=-4.0)
    ref = measure_reference(tmp_path / "ref.wav")
    proc = subprocess.run([sys.executable, "-m", "automix", "mix", "--test-stems", "3", "--style", "country_pop",
                           "-o", str(tmp_path / "m.wav"), "--no-html", "--reference", str(tmp_path / "ref.wav")],
                          capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads((tmp_path / "m.report.json").read_text())
    block = report["reference"]
    assert block["path"] == str(tmp_path / "ref.wav")
    assert abs(block["targets"]["integrated_lufs"]["distance"]) <= 0.1
    assert report["targets"]["integrated_lufs"]["target"] == pytest.approx(ref.integrated_lufs, abs=0.005)
    assert report["targets"]["ms_ratio"]["target"] == pytest.approx(ref.ms_ratio, abs=0.0005)
    x, sr = sf.read(str(tmp_path / "m.wav"), dtype="float64", always_2d=True)
    mine = octave_levels_db(x.T, sr)
    assert block["spectrum"]["distance_db"] == pytest.approx(
        spectrum_distance_db(mine, analyze(x.T, sr)["integrated_lufs"], np.array(ref.octave_db), ref.integrated_lufs),
        abs=0.01)
    assert "to the reference ref.wav" in proc.stdout
    # the faders moved toward the reference's balance: each stem's move within its bound, the bumps no worse
    from automix.reference_balance import MAX_MOVE_DB

    balance = report["reference_balance"]
    assert len(balance["moves_db"]) == 3 and all(abs(m) <= MAX_MOVE_DB for m in balance["moves_db"].values())
    assert balance["bumps_predicted_db"] <= balance["bumps_before_db"]
    assert ("faders moved toward its balance" in proc.stdout) == any(balance["moves_db"].values())


def test_a_batch_mixes_every_session_toward_one_reference(tmp_path):
    """`automix batch --reference`: measured once, its targets in every session's style and report, the
    reference part of what makes a session up to date (another reference redoes it); a mono reference is one
    line and exit 2 before any work."""
    from automix.batch.runner import run_batch
    from automix.errors import EXIT_USAGE
    from automix.sessiongen import write_sessions

    write_sessions(tmp_path / "in", 2, seed=31, duration_s=4.0)
    _track(tmp_path / "ref.wav", level_db=-4.0)
    ref = measure_reference(tmp_path / "ref.wav")
    result = run_batch(tmp_path / "in", tmp_path / "out", style="rock_punk", jobs=1, handle_signals=False,
                       html=False, reference=str(tmp_path / "ref.wav"))
    assert result.exit_code in (0, 1)
    folders = sorted((tmp_path / "out").glob("session-*"))
    assert len(folders) == 2
    for folder in folders:
        report = json.loads((folder / "report.json").read_text())["mix"]
        assert report["targets"]["integrated_lufs"]["target"] == pytest.approx(ref.integrated_lufs, abs=0.005)
        assert report["targets"]["spectral_centroid_hz"]["target"] == pytest.approx(ref.spectral_centroid_hz, abs=0.05)
        block = report["reference"]
        assert block["path"] == str(tmp_path / "ref.wav")
        assert abs(block["targets"]["integrated_lufs"]["distance"]) <= 0.1
    from automix.pages import batch_page

    rows = {r["session"]: r for r in batch_page(tmp_path / "out")["rows"]}  # the dashboard's distance column
    for folder in folders:
        report = json.loads((folder / "report.json").read_text())["mix"]
        assert rows[folder.name]["reference_distance_db"] == report["reference"]["spectrum"]["distance_db"]
    same = run_batch(tmp_path / "in", tmp_path / "out", style="rock_punk", jobs=1, handle_signals=False,
                     html=False, reference=str(tmp_path / "ref.wav"))
    assert same.counts.get("skipped", 0) == sum(
        json.loads((f / "report.json").read_text())["status"] == "ok" for f in folders)
    _track(tmp_path / "other.wav", level_db=-8.0, seed=5)
    other = run_batch(tmp_path / "in", tmp_path / "out", style="rock_punk", jobs=1, handle_signals=False,
                      html=False, reference=str(tmp_path / "other.wav"))
    assert not other.counts.get("skipped")
    x = music_like(12 * SR, SR, 1, seed=1)
    sf.write(str(tmp_path / "mono.wav"), x.T, SR)
    proc = subprocess.run([sys.executable, "-m", "automix", "batch", str(tmp_path / "in"), "--out",
                           str(tmp_path / "out2"), "--style", "rock_punk", "--reference", str(tmp_path / "mono.wav")],
                          capture_output=True, text=True)
    assert proc.returncode == EXIT_USAGE and "mono" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out2").exists()


@pytest.mark.parametrize("n", [8192 * 600 + 1234, 8192, 8193, 5000])
def test_the_long_term_spectrum_is_scipys_welch_fed_in_blocks(n):
    """OctaveSpectrum fed in blocks of an odd size is scipy's Welch PSD over the whole signal, per octave band, to
    round-off: for a signal of many batches whose end is not a whole frame, exactly one frame, one sample more,
    and shorter than a frame (then one frame of its own length, as scipy takes it)."""
    from scipy.signal import welch

    from automix import reference

    rng = np.random.default_rng(9)
    x = rng.standard_normal(n) * np.linspace(0.1, 1.0, n) + 0.3  # level changes and an offset (frames detrended)
    f, psd = welch(x, fs=SR, nperseg=min(8192, n), window="hann")
    want = [psd[(f >= c / np.sqrt(2)) & (f < c * np.sqrt(2))].sum() for c in OCTAVES_HZ]
    acc = reference.OctaveSpectrum(SR)
    for s in range(0, n, 7777):
        acc.process(x[s:s + 7777])
    np.testing.assert_allclose(acc.result(), want, rtol=1e-12)
    np.testing.assert_allclose(acc.result(), want, rtol=1e-12)  # reading it changes nothing
    np.testing.assert_allclose(reference.octave_powers(x, SR), want, rtol=1e-12)


def test_the_master_eq_sees_the_bus_as_the_reference_is_measured_top_octave_included(tmp_path):
    """Toward a reference the tone match reads the bus's octave levels as the reference's are measured (at the
    file's rate, so the 8 kHz octave, which runs past the analysis's 11 kHz, is read whole), and predicts what an
    EQ does to every octave, the top one included: against the EQ rendered by the production engine."""
    from automix import tonal
    from automix.engines.pedalboard_engine import StreamingChain, build_stages
    from automix.settings import PluginSettings

    _track(tmp_path / "bus.wav", seconds=10.0)
    x = sf.read(str(tmp_path / "bus.wav"), dtype="float32", always_2d=True)[0].T
    centres, _, _, power, measured = tonal.bus_spectrum(str(tmp_path / "bus.wav"), SR, power=True)
    np.testing.assert_allclose(measured, octave_levels_db(x.astype(np.float64), SR), atol=1e-6)

    eq = PluginSettings("eq", dict(highpass_hz=20.0, low_shelf_hz=120.0, low_shelf_gain_db=-2.0, peak1_hz=700.0,
                                   peak1_gain_db=-3.0, peak1_q=1.0, peak2_hz=2500.0, peak2_gain_db=2.0, peak2_q=1.0,
                                   peak3_hz=9000.0, peak3_gain_db=3.0, peak3_q=1.5, high_shelf_hz=6000.0,
                                   high_shelf_gain_db=3.0))
    chain = StreamingChain(build_stages(SR, [eq], None), SR, 4096)
    y = np.concatenate([chain.process(x[:, s:s + 4096]) for s in range(0, x.shape[1], 4096)] + [chain.flush()],
                       axis=1)
    rendered = octave_levels_db(y.astype(np.float64), SR)
    shape = tonal.octave_shape(centres, power, np.zeros(len(OCTAVES_HZ)), measured)  # residual: the bus's own shape
    assert list(shape.centres_hz) == list(OCTAVES_HZ)
    predicted = shape.residual(tonal.eq_magnitude(eq.params, SR, centres))
    # within 0.05 dB from 125 Hz up, the top octave included; the 63 Hz octave spans a handful of the analysis's
    # 10.8 Hz bins, where the high-pass and the low shelf bend
    np.testing.assert_allclose(predicted[1:], (rendered - rendered.mean())[1:], atol=0.05)
    assert predicted[0] == pytest.approx(rendered[0] - rendered.mean(), abs=0.25)
    assert rendered[-1] - measured[-1] > 3.0  # the shelf and the bell lift the top octave: its move is seen
    # without the bus's own measurement, the top octave (above the analysis's Nyquist) is left out
    assert 8000.0 not in list(tonal.octave_shape(centres, power, np.zeros(len(OCTAVES_HZ))).centres_hz)


def test_the_centroid_is_matched_again_only_when_the_master_takes_it_out_of_tolerance():
    """Closed form: the second match aims the target away by the model's error (final over predicted)."""
    import dataclasses

    from automix.mixer import _recentred

    style = dataclasses.replace(get_style("rock_punk"), spectral_centroid_hz=2000.0)
    tone = {"centroid_predicted_hz": 2150.0}  # +7.5 %, inside the 10 % tolerance
    aimed = _recentred(tone, {"spectral_centroid_hz": 2240.0}, style)  # the master measured +12 %
    assert aimed.spectral_centroid_hz == pytest.approx(2000.0 * 2150.0 / 2240.0)
    assert aimed.tolerances == style.tolerances and aimed.lufs == style.lufs
    assert _recentred(tone, {"spectral_centroid_hz": 2190.0}, style) is None  # +9.5 %: inside, left alone
    assert _recentred({"centroid_predicted_hz": 2300.0}, {"spectral_centroid_hz": 2400.0}, style) is None  # bound
    assert _recentred({}, {"spectral_centroid_hz": 2400.0}, style) is None  # no tone match


def test_a_master_whose_centroid_lands_outside_is_matched_again_and_made_again(tmp_path, monkeypatch):
    """The path end to end: the first master's centroid is taken as 20 % over the target; the EQ is matched again
    aiming lower, the master made again, and the report says so; the second master is not checked again."""
    from automix import mixer
    from automix.session import mix_command
    from automix.sessiongen import write_sessions

    write_sessions(tmp_path / "in", 1, seed=12, duration_s=4.0)
    _track(tmp_path / "ref.wav")
    real, seen = mixer._recentred, []

    def first_over(tone, measured, style):
        seen.append(measured["spectral_centroid_hz"])
        if len(seen) == 1:
            measured = dict(measured, spectral_centroid_hz=style.spectral_centroid_hz * 1.2)
        return real(tone, measured, style)

    monkeypatch.setattr(mixer, "_recentred", first_over)
    stems = sorted(str(p) for p in next((tmp_path / "in").glob("session-*")).glob("*.wav"))
    report, _ = mix_command(stems, style="rock_punk", targets=None, output=str(tmp_path / "m.wav"),
                            engine="pedalboard", optimize_steps=0, test_stems=None, threads=1, verbose=False,
                            html=False, reference=str(tmp_path / "ref.wav"))
    tone = report["master"]["tonal_match"]
    again = tone["centroid_rematched"]
    assert len(seen) == 1
    assert again["aimed_hz"] == pytest.approx(again["predicted_hz"] / 1.2, rel=1e-4)
    assert again["measured_hz"] == pytest.approx(seen[0], abs=1e-3)
    assert tone["centroid_predicted_hz"] < again["predicted_hz"]  # aimed lower, predicted lower
    final = report["targets"]["spectral_centroid_hz"]["final"]
    assert final == pytest.approx(tone["centroid_predicted_hz"], rel=0.03)  # the master made from the second EQ
    assert abs(report["targets"]["integrated_lufs"]["final"] - report["targets"]["integrated_lufs"]["target"]) <= 0.1

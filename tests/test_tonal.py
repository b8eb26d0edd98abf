"""Tonal match: the EQ response it predicts with is pedalboard's, and its answer is stable under round-off."""
from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from automix import tonal
from automix.priors import master_prior
from automix.styles import get_style
from plugins import get_plugin

SR = 44100


def _pedalboard_magnitude(params, freqs, n=1 << 17):
    x = np.zeros((1, n), np.float32)
    x[0, 0] = 1.0
    h = pedalboard.Pedalboard(get_plugin("eq").build(SR, **params))(x, SR)[0].astype(np.float64)
    grid = np.fft.rfftfreq(n, 1.0 / SR)
    return np.interp(freqs, grid, np.abs(np.fft.rfft(h)))


@pytest.mark.parametrize("seed", range(4))
def test_eq_magnitude_is_the_production_filters(seed):
    rng = np.random.default_rng(seed)
    spec = get_plugin("eq")
    params = {p.name: float(p.from_unit(rng.uniform(0.05, 0.95))) for p in spec.params}
    freqs = np.geomspace(30, 18000, 200)
    ours = 20 * np.log10(tonal.eq_magnitude(params, SR, freqs))
    theirs = 20 * np.log10(_pedalboard_magnitude(params, freqs))
    # where the EQ cuts deep, pedalboard's float32 recursion (and JUCE zeroing IIR states below 1e-8
    # at block ends) moves its response by a fraction of a dB; elsewhere the two agree to 0.05 dB
    live, cut = theirs > -15.0, (theirs > -30.0) & (theirs <= -15.0)
    assert live.sum() > 100
    np.testing.assert_allclose(ours[live], theirs[live], atol=0.05)
    np.testing.assert_allclose(ours[cut], theirs[cut], atol=0.5)


def _pink_spectrum(slope_db_per_octave: float):
    freqs = np.fft.rfftfreq(4096, 1.0 / SR)
    f = np.maximum(freqs, 20.0)
    power = (f / 1000.0) ** (slope_db_per_octave / (10 * np.log10(2))) / (1 + (40.0 / f) ** 4)
    return freqs, np.sqrt(power), power


def test_match_tone_reaches_a_reachable_centroid_and_is_stable_under_round_off():
    style = get_style("rock_punk")
    freqs, mag, power = _pink_spectrum(-7.5)  # darker than the target: the EQ must brighten
    eq = next(p for p in master_prior(style) if p.plugin == "eq")
    before, _ = tonal.tonal_measures(freqs, mag, power)
    new, info = tonal.match_tone(freqs, mag, power, eq, style, SR)
    assert before < 0.8 * style.spectral_centroid_hz
    assert abs(info["centroid_predicted_hz"] / style.spectral_centroid_hz - 1) < 0.05
    rng = np.random.default_rng(0)
    for _ in range(3):  # what another recording level leaves on the bus: float round-off
        noise = 1 + 1e-7 * rng.standard_normal(mag.shape)
        again, _ = tonal.match_tone(freqs, mag * noise, power * noise ** 2, eq, style, SR)
        # converged: the same gains up to the settings' 0.001 dB rounding (a loose search lands ~1 dB apart)
        assert max(abs(again.params[k] - new.params[k]) for k in tonal.MOVED) <= 0.001 + 1e-9


def test_match_tone_predicts_the_balance_after_the_master_compressor(tmp_path):
    """The EQ sits after the master's trim and compressor, so the spectrum it is matched on must be theirs:
    a loud mid-range section squashed by the compressor shifts the averaged spectrum toward the bass."""
    import scipy.signal
    import soundfile as sf

    from automix.engines.pedalboard_engine import StreamingChain, build_stages
    from automix.meters import StreamingMeter
    from automix.settings import PluginSettings

    rng = np.random.default_rng(1)
    n = 4 * SR
    mids = scipy.signal.sosfilt(scipy.signal.butter(4, [600, 2500], "bandpass", fs=SR, output="sos"),
                                rng.standard_normal(n))
    lows = scipy.signal.sosfilt(scipy.signal.butter(4, 150, fs=SR, output="sos"), rng.standard_normal(n))
    highs = scipy.signal.sosfilt(scipy.signal.butter(4, 6000, "highpass", fs=SR, output="sos"), rng.standard_normal(n))
    loud = (np.arange(n) // (SR // 2)) % 2 == 0  # half-second bursts of a loud mid-range part
    x = (0.6 * mids * loud + 0.15 * lows + 0.02 * highs).astype(np.float32)
    bus = tmp_path / "bus.wav"
    sf.write(str(bus), np.stack([x, x]).T, SR, subtype="FLOAT")

    style = get_style("rock_punk")
    chain = master_prior(style)
    compressor = PluginSettings("compressor", dict(next(p for p in chain if p.plugin == "compressor").params,
                                                   threshold_db=-30.0, ratio=8.0))
    eq = next(p for p in chain if p.plugin == "eq")
    trim = -4.0
    freqs, mag, power = tonal.bus_spectrum(str(bus), SR, [compressor], trim)
    new_eq, info = tonal.match_tone(freqs, mag, power, eq, style, SR)

    stream = StreamingChain(build_stages(SR, [compressor, new_eq], trim), SR, 4096)
    meter = StreamingMeter(SR, 2, true_peak=False)
    data = np.stack([x, x])
    for s in range(0, n, 4096):
        meter.process(stream.process(data[:, s:s + 4096]))
    meter.process(stream.flush())
    measured = np.array(list(meter.result()["band_balance"].values()))
    np.testing.assert_allclose(measured, info["balance_predicted"], atol=0.01)

    # matched on the bus itself, the same EQ's balance would be predicted far from what the master delivers
    _, plain = tonal.match_tone(*tonal.bus_spectrum(str(bus), SR), eq, style, SR)
    assert np.abs(measured - np.array(plain["balance_predicted"])).max() > 0.05


def _corners(eq, freqs, mag, power):
    """Centroid and shares at every corner of the moved gains' box (8 settings)."""
    import itertools

    spec = get_plugin("eq")
    out = []
    for corner in itertools.product(*[(spec.spec(k).minimum, spec.spec(k).maximum) for k in tonal.MOVED]):
        h = tonal.eq_magnitude(dict(eq.params, **dict(zip(tonal.MOVED, corner))), SR, freqs)
        out.append(tonal.tonal_measures(freqs, h * mag, h * h * power))
    return out


def test_reach_is_recorded_only_for_a_miss_and_bounds_what_the_eq_can_do():
    style = get_style("rock_punk")  # low share target 0.60
    eq = next(p for p in master_prior(style) if p.plugin == "eq")
    freqs, mag, power = _pink_spectrum(-7.5)
    _, info = tonal.match_tone(freqs, mag, power, eq, style, SR)
    assert "reach" not in info  # reachable: the match hits it and pays nothing extra

    # nothing below 1 kHz: no master EQ setting gives the mix a 60% low share or a 2.8 kHz centroid
    power = power * (freqs > 1000) + 1e-12 * power
    mag = np.sqrt(power)
    _, info = tonal.match_tone(freqs, mag, power, eq, style, SR)
    reach = info["reach"]
    corners = _corners(eq, freqs, mag, power)
    lo, hi = reach["centroid_range_hz"]
    # the searched extremes are at least as far out as every corner of the box, and no further than physics allows
    assert lo <= min(c for c, _ in corners) + 1.0 and hi >= max(c for c, _ in corners) - 1.0
    assert 1000 < lo < hi < SR / 2
    assert reach["balance_best_error"] > style.tolerances.balance_abs
    assert reach["balance_limit"]["band"] == 0  # the low band is the one it cannot reach
    assert reach["balance_limit"]["share"] >= max(b[0] for _, b in corners) - 1e-9
    assert reach["balance_limit"]["share"] < 0.01

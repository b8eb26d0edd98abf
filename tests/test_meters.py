"""Meters against the EBU reference signals, pyloudnorm, closed forms and each other.

The EBU Tech 3341 / 3342 V4 signals are generated here from Table 1 of each
specification (no downloads), at 48 kHz and at 44.1 kHz (to catch K-weighting fixed at 48 kHz).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import pyloudnorm
import scipy.fft
import scipy.signal
import torch

from automix.meters import (
    KEYS, StreamingMeter, analyze, band_balance_torch, loudness_torch, ms_ratio_torch, spectral_centroid_torch,
)
from automix.meters.spectral import frame_size
from tests.conftest import music_like

RATES = (48000, 44100)


def tone(sample_rate, segments, freq=1000.0, channels=2):
    """1 kHz sine, phase-continuous, peak ``dBFS`` per channel, over ``[(dBFS, seconds), ...]``."""
    amp = np.concatenate([np.full(int(round(s * sample_rate)), 10.0 ** (db / 20.0)) for db, s in segments])
    x = amp * np.sin(2 * np.pi * freq * np.arange(amp.size) / sample_rate)
    return np.repeat(x[None], channels, axis=0)


def stream(x, sample_rate, rng, max_block=70000, **kw):
    """Feed ``x`` to a StreamingMeter in random block sizes (0 and 1 included)."""
    meter = StreamingMeter(sample_rate, x.shape[0], **kw)
    sizes = [0, 1, 7]
    start = 0
    while start < x.shape[1]:
        n = sizes.pop() if sizes else int(rng.choice([rng.integers(0, 600), rng.integers(600, max_block)]))
        meter.process(x[:, start:start + n])
        start += n
    return meter


def assert_same(a: dict, b: dict, rel=1e-9, abs_db=1e-6):
    assert list(a) == list(b) == list(KEYS)
    for k in KEYS:
        if k == "band_balance":
            for band in ("low", "mid", "high"):
                assert a[k][band] == pytest.approx(b[k][band], rel=1e-6, abs=1e-9), (k, band)
        elif k.endswith(("_dbtp", "_dbfs")):
            assert a[k] == pytest.approx(b[k], abs=abs_db), k
        elif k == "spectral_centroid_hz":
            assert a[k] == pytest.approx(b[k], rel=1e-6), k
        else:
            assert a[k] == pytest.approx(b[k], rel=rel, abs=1e-9), k


# --------------------------------------------------------------------------------------------
# EBU Tech 3341 V4 (loudness, true peak) and Tech 3342 V4 (loudness range)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("level", [-23.0, -33.0])
def test_ebu3341_1_2_steady_sine(sample_rate, level):
    r = analyze(tone(sample_rate, [(level, 20.0)]), sample_rate)
    for key in ("integrated_lufs", "short_term_max_lufs", "momentary_max_lufs"):
        assert r[key] == pytest.approx(level, abs=0.1), key


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("segments", [
    [(-36, 10), (-23, 60), (-36, 10)],                          # 3341-3: relative gate
    [(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)],    # 3341-4: absolute + relative gate
    [(-26, 20), (-20, 20.1), (-26, 20)],                        # 3341-5
], ids=["3341-3", "3341-4", "3341-5"])
def test_ebu3341_3_5_gating(sample_rate, segments):
    r = analyze(tone(sample_rate, segments), sample_rate)
    assert r["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize("sample_rate", RATES)
def test_ebu3341_9_short_term_constant(sample_rate):
    meter = StreamingMeter(sample_rate, 2)
    meter.process(tone(sample_rate, [(-20, 1.34), (-30, 1.66)] * 5))
    st = meter.short_term_lufs()
    assert st.size == 121  # 3 s windows every 100 ms over 15 s
    assert np.all(np.abs(st - -23.0) <= 0.1)
    assert meter.result()["short_term_max_lufs"] == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize("sample_rate", RATES)
def test_ebu3341_12_momentary_constant(sample_rate):
    meter = StreamingMeter(sample_rate, 2)
    meter.process(tone(sample_rate, [(-20, 0.18), (-30, 0.22)] * 25))
    mom = meter.momentary_lufs()
    assert mom.size == 97  # 400 ms blocks every 100 ms over 10 s
    assert np.all(np.abs(mom - -23.0) <= 0.1)
    assert meter.result()["momentary_max_lufs"] == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("oversample", [4, 16])
@pytest.mark.parametrize("divisor, phase_deg, amplitude, expected", [
    (4, 0.0, 0.5, -6.0), (4, 45.0, 0.5, -6.0), (6, 60.0, 0.5, -6.0), (8, 67.5, 0.5, -6.0), (4, 45.0, 1.41, 3.0),
], ids=["3341-15", "3341-16", "3341-17", "3341-18", "3341-19"])
def test_ebu3341_15_19_true_peak(sample_rate, oversample, divisor, phase_deg, amplitude, expected):
    # A steady tone: 50 ms raised-cosine fades keep the start and end from being steps
    # (a step reconstructs with overshoot, which a true-peak meter must and does report).
    n = 2 * sample_rate
    fade = np.ones(n)
    k = int(0.05 * sample_rate)
    fade[:k] = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
    fade[-k:] = fade[:k][::-1]
    x = amplitude * np.sin(2 * np.pi * np.arange(n) / divisor + np.deg2rad(phase_deg)) * fade
    r = analyze(np.stack([x, x]), sample_rate, oversample=oversample)
    assert expected - 0.4 <= r["true_peak_dbtp"] <= expected + 0.2
    if phase_deg:
        assert r["sample_peak_dbfs"] < expected - 0.6  # the test is about inter-sample peaks


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("levels, expected", [
    ((-20, -30), 10.0), ((-20, -15), 5.0), ((-40, -20), 20.0), ((-50, -35, -20, -35, -50), 15.0),
], ids=["3342-1", "3342-2", "3342-3", "3342-4"])
def test_ebu3342_loudness_range(sample_rate, levels, expected):
    r = analyze(tone(sample_rate, [(db, 20.0) for db in levels]), sample_rate)
    assert r["loudness_range_lu"] == pytest.approx(expected, abs=1.0)


def test_step_start_overshoot_is_reported():
    # fs/8 sine at 67.5 degrees starting and stopping abruptly: the reconstruction overshoots
    n = 48000
    x = 0.5 * np.sin(2 * np.pi * np.arange(n) / 8 + np.deg2rad(67.5))
    assert analyze(x, 48000)["true_peak_dbtp"] > -6.0 + 0.3


# pyloudnorm's and scipy's arithmetic, reproduced so that a mix imports neither

@pytest.mark.parametrize("filter_class", ["K-weighting", "DeMan"])
def test_k_weighting_coefficients_are_pyloudnorms_bit_for_bit(filter_class):
    from automix.meters.loudness import k_weighting_sos

    for sr in (8000, 11025, 22050, 32000, 44100, 48000, 88200, 96000, 192000):
        stages = list(pyloudnorm.Meter(sr, filter_class=filter_class)._filters.values())
        want = np.array([np.concatenate([s.b, s.a]) for s in stages])
        np.testing.assert_array_equal(k_weighting_sos(sr, filter_class), want)


def test_window_and_section_response_are_scipys_bit_for_bit():
    import scipy.signal

    from automix.dsp import hann_periodic, sos_response

    for n in (1, 2, 7, 2048, 4096):
        np.testing.assert_array_equal(hann_periodic(n), scipy.signal.get_window("hann", n, fftbins=True))
    rng = np.random.default_rng(5)
    sos = np.concatenate([rng.normal(size=(7, 3)), np.ones((7, 1)), rng.uniform(-0.9, 0.9, (7, 2))], axis=1)
    for fs in (44100.0, 48000):
        f = np.concatenate([[0.0, 1.0], rng.uniform(10, fs / 2, 200), [fs / 2]])
        np.testing.assert_array_equal(sos_response(sos, f, fs), scipy.signal.sosfreqz(sos, worN=f, fs=fs)[1])


# --------------------------------------------------------------------------------------------
# pyloudnorm, streaming, whole array
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample_rate, seconds", [(44100, 23.37), (48000, 9.0), (22050, 4.06), (32000, 0.73)])
@pytest.mark.parametrize("channels", [2, 1])
def test_integrated_matches_pyloudnorm(sample_rate, seconds, channels):
    rng = np.random.default_rng(sample_rate + channels)
    x = music_like(int(seconds * sample_rate), sample_rate, channels, seed=channels).astype(np.float64)
    x *= np.linspace(0.05, 0.5, x.shape[1])  # a fade-in, so both gates do something
    stereo = np.repeat(x, 2, axis=0) if channels == 1 else x
    expected = pyloudnorm.Meter(sample_rate).integrated_loudness(stereo.T)
    streamed = stream(x, sample_rate, rng).result()["integrated_lufs"]
    assert streamed == pytest.approx(expected, abs=1e-6)
    assert analyze(x, sample_rate)["integrated_lufs"] == pytest.approx(expected, abs=1e-6)
    if channels == 1:  # dual mono reads 3.01 dB above strict single-channel BS.1770
        single = pyloudnorm.Meter(sample_rate).integrated_loudness(x[0])
        assert streamed - single == pytest.approx(10 * math.log10(2), abs=1e-6)


def test_momentary_and_short_term_series_match_pyloudnorm_blocks():
    sr = 44100
    x = music_like(int(7.31 * sr), sr, 2, seed=11).astype(np.float64) * np.linspace(1.0, 0.01, int(7.31 * sr))
    meter = StreamingMeter(sr, 2)
    meter.process(x)
    ref = pyloudnorm.Meter(sr)
    ref.integrated_loudness(x.T)
    np.testing.assert_allclose(meter.momentary_lufs(), ref.blockwise_loudness, rtol=0, atol=1e-9)
    assert meter.result()["momentary_max_lufs"] == pytest.approx(max(ref.blockwise_loudness), abs=1e-9)
    # 3 s blocks with a 100 ms hop; pyloudnorm's float step may put a boundary one sample off
    ref = pyloudnorm.Meter(sr, block_size=3.0, overlap=1.0 - 1.0 / 30.0)
    ref.integrated_loudness(x.T)
    st = meter.short_term_lufs()
    assert st.size == len(ref.blockwise_loudness) == 44
    np.testing.assert_allclose(st, ref.blockwise_loudness, rtol=0, atol=1e-3)


def test_deman_filter_class_matches_pyloudnorm():
    x = music_like(5 * 44100, 44100, 2, seed=4).astype(np.float64)
    expected = pyloudnorm.Meter(44100, filter_class="DeMan").integrated_loudness(x.T)
    assert analyze(x, 44100, filter_class="DeMan")["integrated_lufs"] == pytest.approx(expected, abs=1e-6)
    # pyloudnorm's default RBJ design reads about 0.04 dB under the ITU (DeMan) filter at 1 kHz
    default = analyze(x, 44100)["integrated_lufs"]
    assert 0.01 < expected - default < 0.08


@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000])
@pytest.mark.parametrize("channels", [1, 2])
def test_streaming_equals_whole_array(sample_rate, channels):
    rng = np.random.default_rng(channels)
    x = music_like(int(6.3 * sample_rate) + 17, sample_rate, channels, seed=3) * 0.4
    whole = analyze(x, sample_rate)
    assert_same(stream(x, sample_rate, rng).result(), whole)
    assert_same(stream(x, sample_rate, rng, max_block=900).result(), whole)


def test_result_is_repeatable_mid_stream():
    x = music_like(3 * 44100, 44100, 2, seed=8)
    meter = StreamingMeter(44100, 2)
    meter.process(x[:, :50000])
    first = meter.result()
    assert_same(meter.result(), first)
    meter.process(x[:, 50000:])
    assert_same(meter.result(), analyze(x, 44100))
    assert meter.samples == x.shape[1]


@pytest.mark.parametrize("n", [1, 100, 4095, 4096, 6144, 17639, 17640, 17641, 132299])
def test_short_and_edge_lengths(n):
    x = music_like(n, 44100, 2, seed=n) * 0.5
    whole = analyze(x, 44100)
    assert_same(stream(x, 44100, np.random.default_rng(n), max_block=5000).result(), whole)
    assert all(np.isfinite(whole[k]) for k in KEYS if k != "band_balance")


def test_silence_and_empty():
    for x in (np.zeros((2, 44100)), np.zeros((2, 0))):
        r = analyze(x, 44100)
        for key in ("integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "true_peak_dbtp",
                    "sample_peak_dbfs"):
            assert r[key] == -math.inf, key
        assert r["loudness_range_lu"] == 0.0
        assert r["spectral_centroid_hz"] == 0.0
        assert r["ms_ratio"] == 0.0
        assert r["band_balance"] == {"low": 0.0, "mid": 0.0, "high": 0.0}


def test_mono_is_dual_mono():
    x = music_like(3 * 48000, 48000, 1, seed=2)
    assert_same(analyze(x, 48000), analyze(np.repeat(x, 2, axis=0), 48000))
    assert_same(analyze(x[0], 48000), analyze(x, 48000))  # 1-D = mono


def test_bad_input_raises_value_error():
    with pytest.raises(ValueError, match="mono or stereo"):
        analyze(np.zeros((6, 1000)), 44100)
    with pytest.raises(ValueError, match="transpose"):
        analyze(np.zeros((1000, 2)), 44100)
    x = np.zeros((2, 1000))
    x[1, 500] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        analyze(x, 44100)
    meter = StreamingMeter(44100, 2)
    with pytest.raises(ValueError, match="2 channel"):
        meter.process(np.zeros((1, 10)))
    with pytest.raises(ValueError):
        StreamingMeter(44100, 3)
    with pytest.raises(ValueError):
        StreamingMeter(44100, 2, oversample=0)
    with pytest.raises(ValueError):
        StreamingMeter(0, 2)
    with pytest.raises(ValueError):
        loudness_torch(torch.zeros(1, 3, 1000), 44100)


def test_optional_meters_are_none():
    x = music_like(44100, 44100, 2)
    meter = StreamingMeter(44100, 2, spectral=False, true_peak=False)
    meter.process(x)
    r = meter.result()
    assert r["spectral_centroid_hz"] is None and r["band_balance"] is None and r["true_peak_dbtp"] is None
    full = analyze(x, 44100)
    for key in ("integrated_lufs", "loudness_range_lu", "sample_peak_dbfs", "ms_ratio"):
        assert r[key] == pytest.approx(full[key], rel=1e-12)


# --------------------------------------------------------------------------------------------
# true peak against ideal interpolation
# --------------------------------------------------------------------------------------------

def _ideal_peak(x: np.ndarray, factor: int) -> float:
    """Peak of band-limited (FFT, periodic) interpolation; ``x`` tapered to zero at both ends."""
    n = x.shape[-1]
    spec = scipy.fft.rfft(x, axis=-1)
    up = np.zeros(x.shape[:-1] + (n * factor // 2 + 1,), complex)
    up[..., : spec.shape[-1]] = spec
    up[..., n // 2] *= 0.5
    return float(np.abs(scipy.fft.irfft(up, n * factor, axis=-1) * factor).max())


@pytest.mark.parametrize("cutoff_hz", [16000, 19000])
def test_true_peak_matches_ideal_interpolation(cutoff_hz):
    sr, n = 44100, 44100
    rng = np.random.default_rng(cutoff_hz)
    sos = scipy.signal.butter(10, cutoff_hz, fs=sr, output="sos")
    x = scipy.signal.sosfilt(sos, rng.standard_normal((2, n)) * 0.2, axis=-1) * np.hanning(n)
    ideal = 20 * np.log10(_ideal_peak(x, 64))
    tp4 = analyze(x, sr)["true_peak_dbtp"]
    tp16 = analyze(x, sr, oversample=16)["true_peak_dbtp"]
    assert tp16 == pytest.approx(ideal, abs=0.05)
    assert ideal - 0.6 <= tp4 <= tp16 + 1e-9  # the 16x grid contains the 4x grid
    assert 20 * np.log10(_ideal_peak(x, 16)) == pytest.approx(tp16, abs=0.01)  # the filter itself


def test_true_peak_high_sine():
    sr = 44100
    n = sr
    amp = 0.7
    x = amp * np.sin(2 * np.pi * 19000 * np.arange(n) / sr + 0.3) * np.hanning(n) ** 0.05
    tp16 = analyze(x, sr, oversample=16)["true_peak_dbtp"]
    assert tp16 == pytest.approx(20 * np.log10(amp), abs=0.06)


# --------------------------------------------------------------------------------------------
# spectral and stereo known answers
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample_rate", [44100, 48000, 96000, 22050])
@pytest.mark.parametrize("freq", [100.0, 997.0, 5000.0])
def test_centroid_of_sine_is_its_frequency(sample_rate, freq):
    # every inner frame reads the frequency within 0.2 %; the two zero-padded edge frames read higher (a cut-off
    # sine leaks upward), by about 5 / n_frames relative at 100 Hz: 10 s keeps that below 1 %
    x = 0.3 * np.sin(2 * np.pi * freq * np.arange(10 * sample_rate) / sample_rate)
    assert analyze(np.stack([x, x]), sample_rate)["spectral_centroid_hz"] == pytest.approx(freq, rel=0.01)


def test_frame_size():
    assert [frame_size(r) for r in (44100, 48000, 22050, 96000, 88200, 32000)] == [4096, 4096, 2048, 8192, 8192,
                                                                                  4096]


def test_quiet_frames_are_left_out():
    sr = 44100
    t = np.arange(22 * sr) / sr
    # 1 kHz for 2 s, then (0.2 s raised-cosine crossfade) 8 kHz for 20 s at -80 dB (left out) or -40 dB (kept)
    loud = np.clip((2.1 - t) / 0.2 + 0.5, 0.0, 1.0)
    loud = 0.5 - 0.5 * np.cos(np.pi * loud)
    for level, kept in ((1e-4, False), (1e-2, True)):
        x = 0.5 * (loud * np.sin(2 * np.pi * 1000 * t) + level * (1 - loud) * np.sin(2 * np.pi * 8000 * t))
        centroid = analyze(x, sr)["spectral_centroid_hz"]
        if kept:
            assert centroid > 1300.0
        else:
            assert centroid == pytest.approx(1000.0, rel=0.01)


@pytest.mark.parametrize("freq, band", [(100.0, "low"), (1000.0, "mid"), (8000.0, "high")])
def test_band_balance_of_sine(freq, band):
    x = 0.3 * np.sin(2 * np.pi * freq * np.arange(2 * 44100) / 44100)
    bb = analyze(x, 44100)["band_balance"]
    # magnitude shares: the Hann window's leakage skirts weigh more than in power, and the two zero-padded
    # edge frames spread further
    assert bb[band] > 0.95
    assert sum(bb.values()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("freq, octave", [(40.0, 0), (100.0, 1), (700.0, 4), (3000.0, 6), (5600.0, 7),
                                         (18000.0, 9)])
def test_octave_balance_of_sine(freq, octave):
    """A sine lands in its octave band (edges: octaves of 250 Hz), and the streaming meter splits it so."""
    x = 0.3 * np.sin(2 * np.pi * freq * np.arange(2 * 48000) / 48000)
    meter = StreamingMeter(48000, 1, octaves=True)
    meter.process(x)
    shares = meter.octave_balance()
    assert len(shares) == 10 and sum(shares) == pytest.approx(1.0, abs=1e-12)
    assert shares[octave] > 0.99


def test_octave_balance_is_power_on_native_frames():
    """Octaves 0-2, 3-6 and 7-9 are the power shares below 250 Hz, 250 Hz..4 kHz and above 4 kHz of the mid
    signal's native-rate Hann frames (4096, hop 2048, complete frames), on music-like noise."""
    sr = 44100
    x = music_like(3 * sr, sr, 2, seed=4) * 0.4
    meter = StreamingMeter(sr, 2, octaves=True)
    meter.process(x)
    o = meter.octave_balance()
    mid = 0.5 * (x[0].astype(np.float64) + x[1])
    frames = np.lib.stride_tricks.sliding_window_view(mid, 4096)[::2048]
    power = (np.abs(np.fft.rfft(frames * scipy.signal.get_window("hann", 4096), axis=1)) ** 2).sum(axis=0)
    f = np.fft.rfftfreq(4096, 1 / sr)
    bands = np.array([power[f < 250].sum(), power[(f >= 250) & (f <= 4000)].sum(), power[f > 4000].sum()])
    np.testing.assert_allclose([sum(o[:3]), sum(o[3:7]), sum(o[7:])], bands / bands.sum(), rtol=1e-4)
    assert min(o) > 0.0 and max(o) < 0.9  # spread over the octaves, so the grouping is tested


def test_octave_balance_only_when_asked_for():
    """The stem-analysis configuration (no true peak) computes the octaves; a full meter does not."""
    x = music_like(44100, 44100, 2, seed=4)
    for kw, computed in (({}, False), ({"true_peak": False}, True), ({"octaves": True}, True),
                         ({"true_peak": False, "octaves": False}, False)):
        meter = StreamingMeter(44100, 2, **kw)
        meter.process(x)
        assert (meter.octave_balance() is not None) == computed, kw


# --------------------------------------------------------------------------------------------
# centroid and band balance against librosa (the MIR convention)
# --------------------------------------------------------------------------------------------

def _tilted_noise(n, sr, slope_db_per_octave, seed):
    """Stereo Gaussian noise with a spectral tilt around 1 kHz."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal((2, n)), axis=1)
    f = np.maximum(np.fft.rfftfreq(n, 1 / sr), 20.0)
    spec *= (f / 1000.0) ** (slope_db_per_octave / (20 * np.log10(2)))
    x = np.fft.irfft(spec, n=n, axis=1)
    return 0.3 * x / np.abs(x).max()


def _chord(n, sr, seed):
    """A chord of harmonic tones (1/k amplitudes) with plucked envelopes retriggered every 0.5 s."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for f0 in (110.0, 138.6, 164.8, 220.0):
        env = np.exp(-(t % 0.5) / rng.uniform(0.08, 0.3))
        for k in range(1, 40):
            if k * f0 < 0.45 * sr:
                x += env * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k
    x = x / np.abs(x).max() * 0.5
    return np.stack([x, 0.8 * x])


def _mix(sr, seed):
    """A synthetic session's stems summed (drums, bass, keys, pads...), 6 s."""
    from automix.sessiongen import generate_stems

    stems = generate_stems(seed, duration_s=6.0, sample_rate=sr)
    x = sum(np.broadcast_to(s, (2, s.shape[1])).astype(np.float64) for s in stems.values())
    return 0.5 * x / np.abs(x).max()


MATERIAL = {
    "mix": lambda n, sr: _mix(sr, 1)[:, :n],
    "dark noise": lambda n, sr: _tilted_noise(n, sr, -4.5, 2),
    "bright noise": lambda n, sr: _tilted_noise(n, sr, 1.5, 3),
    "chord": lambda n, sr: _chord(n, sr, 4),
    "music_like": lambda n, sr: music_like(n, sr, 2, seed=5).astype(np.float64),
}


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("name", sorted(MATERIAL))
def test_centroid_matches_librosa(sample_rate, name):
    """The mean of librosa's per-frame centroids (mono at 22.05 kHz via librosa.resample, its defaults)."""
    import librosa

    x = MATERIAL[name](int(5.5 * sample_rate), sample_rate)
    mono = x.mean(axis=0).astype(np.float32)
    y = librosa.resample(mono, orig_sr=sample_rate, target_sr=22050)
    reference = float(librosa.feature.spectral_centroid(y=y, sr=22050)[0].mean())
    ours = analyze(x, sample_rate)["spectral_centroid_hz"]
    assert ours == pytest.approx(reference, rel=0.01)
    assert 300.0 < reference < 8000.0  # the material is what it says


def test_band_balance_of_white_noise_is_the_bandwidth_shares():
    sr = 22050
    x = np.random.default_rng(7).standard_normal(10 * sr) * 0.1
    bb = analyze(x, sr)["band_balance"]
    expected = [250 / 11025, 3750 / 11025, 7025 / 11025]
    np.testing.assert_allclose([bb["low"], bb["mid"], bb["high"]], expected, atol=0.003)


def test_band_balance_is_the_mean_of_per_frame_magnitude_shares():
    """Loud low-band frames then quiet high-band frames: each frame counts equally (power shares of the
    averaged spectrum would give the loud half nearly all the weight)."""
    sr = 44100
    t = np.arange(4 * sr) / sr
    x = np.where(t < 2, 0.5 * np.sin(2 * np.pi * 100 * t), 0.005 * np.sin(2 * np.pi * 8000 * t))
    bb = analyze(x, sr)["band_balance"]
    assert bb["low"] == pytest.approx(0.5, abs=0.03) and bb["high"] == pytest.approx(0.5, abs=0.03)
    assert analyze(x, sr)["spectral_centroid_hz"] == pytest.approx(0.5 * (100 + 8000), rel=0.02)


def test_streaming_in_tiny_blocks_equals_one_shot():
    sr = 48000
    x = _mix(sr, 2)[:, : 2 * sr + 333]
    whole = analyze(x, sr)
    meter = StreamingMeter(sr, 2)
    for s in range(0, x.shape[1], 61):
        meter.process(x[:, s:s + 61])
    r = meter.result()
    assert r["spectral_centroid_hz"] == pytest.approx(whole["spectral_centroid_hz"], rel=1e-6)
    for band in ("low", "mid", "high"):
        assert r["band_balance"][band] == pytest.approx(whole["band_balance"][band], abs=1e-7)


def test_a_meter_on_two_threads_reads_exactly_what_one_thread_reads():
    """The spectral meters beside loudness and true peak on their own thread: every number and curve is the
    same (the accumulators share only the block), for blocks below and above the batching size."""
    sr = 44100
    x = _mix(sr, 2)[:, : 3 * sr + 777].astype(np.float32)
    meters = [StreamingMeter(sr, 2, spectrum=True, over_dbtp=-20.0, folddown=True, threads=t) for t in (1, 2)]
    for meter in meters:
        for s, n in zip(range(0, x.shape[1], 40000), [40000] * 100):
            meter.process(x[:, s:s + n])
            meter.process(x[:, s:s][:, :0])
    one, two = meters
    assert two._helper is not None  # the second thread really ran
    assert one.result() == two.result()
    assert one.spectrum() == two.spectrum() and one.stereo_bands() == two.stereo_bands()
    assert one.folddown_loss_db() == two.folddown_loss_db()
    assert one.true_peak_overs_s() == two.true_peak_overs_s()
    np.testing.assert_array_equal(one.short_term_lufs(), two.short_term_lufs())


def test_ms_ratio_known_answers():
    x = music_like(44100, 44100, 1, seed=5)[0].astype(np.float64)
    z = np.zeros_like(x)
    assert analyze(np.stack([x, x]), 44100)["ms_ratio"] == 0.0
    assert analyze(np.stack([x, -x]), 44100)["ms_ratio"] == math.inf
    assert analyze(np.stack([x, z]), 44100)["ms_ratio"] == pytest.approx(1.0, abs=1e-12)
    assert analyze(np.stack([z, x]), 44100)["ms_ratio"] == pytest.approx(1.0, abs=1e-12)
    y = music_like(44100, 44100, 1, seed=6)[0].astype(np.float64)
    expected = np.sqrt(np.sum((x - y) ** 2) / np.sum((x + y) ** 2))
    assert analyze(np.stack([x, y]), 44100)["ms_ratio"] == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------------------------
# torch versions
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample_rate", [44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_torch_meters_agree_with_numpy(sample_rate, channels):
    rng = np.random.default_rng(channels)
    items = [music_like(int(2.5 * sample_rate), sample_rate, channels, seed=s) * g
             for s, g in ((1, 0.5), (2, 0.05), (3, 1.0))]
    items[1] = items[1] * np.linspace(0.0, 1.0, items[1].shape[1])
    if channels == 2:
        items[2][1] *= rng.uniform(-0.5, 0.5)
    x = torch.tensor(np.stack(items), dtype=torch.float32)
    lufs = loudness_torch(x, sample_rate)
    centroid = spectral_centroid_torch(x, sample_rate)
    balance = band_balance_torch(x, sample_rate)
    ms = ms_ratio_torch(x)
    assert lufs.shape == centroid.shape == ms.shape == (3,) and balance.shape == (3, 3)
    assert lufs.dtype == torch.float32
    for i, item in enumerate(x.numpy()):
        r = analyze(item, sample_rate)
        assert float(lufs[i]) == pytest.approx(r["integrated_lufs"], abs=0.01)
        assert float(centroid[i]) == pytest.approx(r["spectral_centroid_hz"], rel=0.005)
        assert balance[i].tolist() == pytest.approx([r["band_balance"][b] for b in ("low", "mid", "high")],
                                                    abs=0.005)
        assert float(ms[i]) == pytest.approx(r["ms_ratio"], rel=1e-5, abs=1e-7)
    # float64 in: agreement to round-off
    x64 = x.double()
    for i, item in enumerate(x64.numpy()):
        assert float(loudness_torch(x64[i:i + 1], sample_rate)[0]) == pytest.approx(
            analyze(item, sample_rate)["integrated_lufs"], abs=1e-6)


def test_torch_batch_consistency():
    x = torch.tensor(np.stack([music_like(44100, 44100, 2, seed=s) * (0.2 * s) for s in (1, 2, 3)]),
                     dtype=torch.float64)
    for fn in (lambda t: loudness_torch(t, 44100), lambda t: spectral_centroid_torch(t, 44100),
               lambda t: band_balance_torch(t, 44100), ms_ratio_torch):
        batched = fn(x)
        single = torch.cat([fn(x[i:i + 1]) for i in range(3)])
        torch.testing.assert_close(batched, single, rtol=1e-12, atol=1e-12)


def test_torch_gradients_finite_and_correct():
    rng = np.random.default_rng(0)
    base = music_like(int(1.2 * 22050), 22050, 2, seed=9).astype(np.float64) * 0.3
    x = torch.tensor(np.stack([base, np.zeros_like(base), np.stack([base[0], -base[0]])]), requires_grad=True)
    fns = {
        "loudness": lambda t: loudness_torch(t, 22050),
        "centroid": lambda t: spectral_centroid_torch(t, 22050),
        "balance": lambda t: band_balance_torch(t, 22050)[:, 0],
        "ms": ms_ratio_torch,
    }
    for name, fn in fns.items():
        out = fn(x)
        finite = torch.isfinite(out)
        (grad,) = torch.autograd.grad(out[finite].sum(), x)
        assert torch.isfinite(grad).all(), name
        assert grad[1].abs().max() == 0.0, name  # silent item: no gradient, no NaN
        # directional derivative of the first item against central differences
        v = torch.tensor(rng.standard_normal(base.shape))
        eps = 1e-6
        with torch.no_grad():
            xp, xm = x.detach().clone(), x.detach().clone()
            xp[0] += eps * v
            xm[0] -= eps * v
            fd = (fn(xp)[0] - fn(xm)[0]) / (2 * eps)
        assert float((grad[0] * v).sum()) == pytest.approx(float(fd), rel=1e-4, abs=1e-8), name
    with torch.no_grad():
        assert float(loudness_torch(x, 22050)[1]) == -math.inf
        assert float(ms_ratio_torch(x)[2]) == math.inf


def test_level_invariant_stem_loudness_follows_the_level_exactly():
    """A stem with quiet passages near the -70 LUFS gate, recorded 12 dB lower: BS.1770's fixed absolute gate
    moves its reading by more than 12 dB; the stem analysis (gate referred to the stem's peak) by exactly 12."""
    from automix.meters import StreamingMeter

    sr = 48000
    t = np.arange(20 * sr) / sr
    level = np.where(t < 10, 1.0, 10 ** (-9 / 20))  # a quiet stem (about -53 LUFS) with a quieter second half
    x = (10 ** (-50 / 20) * np.sin(2 * np.pi * 440 * t) * level).astype(np.float32)
    stereo = np.stack([x, x])

    def read(y, invariant):
        m = StreamingMeter(sr, 2, spectral=False, true_peak=False)
        m.process(y)
        r = m.result(level_invariant=invariant)
        return r["integrated_lufs"], r["loudness_range_lu"]

    low = (stereo * np.float32(10 ** (-12 / 20))).astype(np.float32)
    (a, lra_a), (b, lra_b) = read(stereo, True), read(low, True)
    assert a - b == pytest.approx(12.0, abs=1e-4) and lra_a == pytest.approx(lra_b, abs=1e-4)
    (c, lra_c), (d, lra_d) = read(stereo, False), read(low, False)
    assert abs((c - d) - 12.0) > 0.01 or abs(lra_c - lra_d) > 0.1  # the fixed gate is not level-invariant
    full = (stereo / np.abs(stereo).max()).astype(np.float32)
    assert read(full, True) == read(full, False)  # for a stem peaking at full scale the two agree


@pytest.mark.parametrize("sample_rate", RATES)
def test_torch_centroid_and_balance_agree_with_numpy_on_music(sample_rate):
    """The FFT-domain resampling of the torch twin against soxr in the numpy meter: 0.5 % and 0.005 share."""
    items = [MATERIAL[name](3 * sample_rate, sample_rate) for name in sorted(MATERIAL)]
    x = torch.tensor(np.stack(items), dtype=torch.float32)
    centroid = spectral_centroid_torch(x, sample_rate)
    balance = band_balance_torch(x, sample_rate)
    for i, item in enumerate(x.numpy()):
        r = analyze(item, sample_rate)
        assert float(centroid[i]) == pytest.approx(r["spectral_centroid_hz"], rel=0.005)
        np.testing.assert_allclose(balance[i].numpy(), [r["band_balance"][b] for b in ("low", "mid", "high")],
                                   atol=0.005)


@pytest.mark.parametrize("sample_rate", RATES)
def test_torch_centroid_and_balance_pass_gradcheck(sample_rate):
    rng = np.random.default_rng(11)
    x = torch.tensor(rng.standard_normal((1, 2, 1100)) * 0.1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: spectral_centroid_torch(t, sample_rate) / 1000.0, (x,),
                                    eps=1e-6, atol=1e-6, rtol=1e-4)
    assert torch.autograd.gradcheck(lambda t: band_balance_torch(t, sample_rate), (x,), eps=1e-6, atol=1e-6,
                                    rtol=1e-4)


def test_centroid_and_balance_in_one_pass_equal_the_two_meters():
    """The training's one-pass call reads exactly what the two separate meters read (and its gradient flows)."""
    from automix.meters.differentiable import band_balance_torch, centroid_and_balance_torch, spectral_centroid_torch

    g = torch.Generator().manual_seed(4)
    x = (torch.randn(3, 2, 44100, generator=g, dtype=torch.float64) * torch.linspace(0.1, 1.0, 44100)).requires_grad_()
    c, b = centroid_and_balance_torch(x, 44100)
    torch.testing.assert_close(c, spectral_centroid_torch(x, 44100), rtol=1e-12, atol=0)
    torch.testing.assert_close(b, band_balance_torch(x, 44100), rtol=1e-12, atol=1e-15)
    (c.sum() + b[:, 0].sum()).backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().max()) > 0


def test_the_long_term_spectrum_nests_in_the_band_balance_and_finds_a_tone():
    from automix.meters import StreamingMeter
    from automix.meters.spectral import N_THIRDS, THIRD_EDGES_HZ

    sr = 44100
    x = _mix(sr, 3)
    meter = StreamingMeter(sr, 2, spectrum=True)
    for start in range(0, x.shape[1], 30000):  # streamed in odd blocks
        meter.process(x[:, start:start + 30000])
    shares, balance = meter.spectrum(), meter.result()["band_balance"]
    assert len(shares) == N_THIRDS and sum(shares) == pytest.approx(1.0, abs=1e-12)
    low = THIRD_EDGES_HZ.index(250.0) + 1  # bands below 250 Hz
    mid = THIRD_EDGES_HZ.index(4000.0) + 1
    assert sum(shares[:low]) == pytest.approx(balance["low"], abs=1e-9)
    assert sum(shares[low:mid]) == pytest.approx(balance["mid"], abs=1e-9)
    assert sum(shares[mid:]) == pytest.approx(balance["high"], abs=1e-9)
    # a tone in the middle of the 1000-1260 Hz band: that band takes nearly all of the magnitude
    t = np.arange(3 * sr) / sr
    tone = StreamingMeter(sr, 1, spectrum=True)
    tone.process(0.5 * np.sin(2 * np.pi * 1122.0 * t)[None])
    got = tone.spectrum()
    band = int(np.argmax(got))
    assert got[band] > 0.95 and THIRD_EDGES_HZ[band - 1] == 1000.0
    assert StreamingMeter(sr, 2).spectrum() is None


@pytest.mark.parametrize("channels, filter_class", [(2, "K-weighting"), (1, "K-weighting"), (2, "DeMan")])
def test_k_weighting_through_digital_silence_is_scipys_to_the_bit(channels, filter_class):
    """Long silences drive the filter states towards subnormal numbers (100x slower arithmetic); the meter
    flushes states under 1e-200 and must still give scipy's sosfilt output exactly (a mono channel counted
    twice, as dual mono)."""
    import scipy.signal

    from automix.meters.loudness import _k_weighted_power, k_weighting_sos

    sr = 44100
    rng = np.random.default_rng(7)
    x = np.zeros((channels, sr * 12))
    x[:, : sr] = rng.standard_normal((channels, sr)) * 0.3
    x[:, 10 * sr:] = rng.standard_normal((channels, 2 * sr)) * 1e-3  # after 9 s of digital silence
    sos = k_weighting_sos(sr, filter_class)
    weight = 2.0 if channels == 1 else 1.0
    want = weight * (scipy.signal.sosfilt(np.array(sos), x, axis=-1) ** 2).sum(axis=0)
    got = np.empty(x.shape[1])
    zi = np.zeros((sos.shape[0], channels, 2))
    for start in range(0, x.shape[1], 65536):  # in blocks, the state carried over
        _k_weighted_power(sos, np.ascontiguousarray(x[:, start:start + 65536]), zi, weight,
                          got[start:start + 65536])
    assert np.array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_analysis_frame_spectra_are_numpys_float32_fft_of_the_windowed_frames(dtype):
    """The compiled passes around the FFT: the magnitudes are numpy's, bit for bit (the float64 windowing rounded
    once to float32, then sqrt(re^2 + im^2) in float32), the energies numpy's to round-off, on a strided view of
    frames as the meter hands them over, and on no frames at all."""
    from automix.meters.spectral import analysis_tables, frame_spectra, frames_view

    buf = np.random.default_rng(4).standard_normal(512 * 40 + 2048).astype(dtype)
    frames = frames_view(buf, 2048, 512, 41)
    window = analysis_tables()[0]
    windowed = frames * window
    spec = scipy.fft.rfft(windowed.astype(np.float32), axis=-1)
    power = spec.real * spec.real
    power += spec.imag * spec.imag
    energy, mag = frame_spectra(frames)
    assert mag.dtype == np.float32 and np.array_equal(mag, np.sqrt(power))
    np.testing.assert_allclose(energy, np.einsum("ij,ij->i", windowed, windowed), rtol=1e-13)
    empty_energy, empty_mag = frame_spectra(frames[:0])
    assert empty_energy.shape == (0,) and empty_mag.shape == (0, 1025)

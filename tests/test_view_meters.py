"""The meters behind the browser views: stereo per band and true-peak overs, against closed forms."""
import math

import numpy as np
import pytest

from automix.meters import StreamingMeter
from automix.meters.stereo import STEREO_EDGES_HZ, StereoBands

SR = 44100


def _bands(x: np.ndarray, block: int | None = None) -> dict:
    m = StereoBands(SR)
    step = block or x.shape[1]
    for s in range(0, x.shape[1], step):
        m.process(x[:, s:s + step])
    return m.result()


def _noise(seconds=2.0, seed=0):
    return np.random.default_rng(seed).standard_normal(int(SR * seconds)) * 0.1


def test_identical_channels_are_mono_in_every_band():
    n = _noise()
    r = _bands(np.stack([n, n]))
    assert r["edges_hz"] == list(STEREO_EDGES_HZ)
    assert len(r["ms_ratio"]) == len(STEREO_EDGES_HZ) + 1
    for ms, corr, fold in zip(r["ms_ratio"], r["correlation"], r["folddown_db"]):
        assert ms == pytest.approx(0.0, abs=1e-6)  # sqrt of a rounding residue
        assert corr == pytest.approx(1.0, abs=1e-12)
        assert fold == pytest.approx(0.0, abs=1e-9)


def test_independent_channels_lose_3_db_in_mono():
    r = _bands(np.stack([_noise(seed=1), _noise(seed=2)]))
    for ms, corr, fold in zip(r["ms_ratio"], r["correlation"], r["folddown_db"]):
        assert abs(corr) < 0.1
        assert ms == pytest.approx(1.0, abs=0.1)
        assert fold == pytest.approx(-3.01, abs=0.4)


def test_opposite_polarity_has_no_mid():
    n = _noise()
    r = _bands(np.stack([n, -n]))
    assert all(c == pytest.approx(-1.0, abs=1e-12) for c in r["correlation"])
    # no mid at all: the ratio and the fold-down loss are undefined, not a number
    assert all(ms is None or ms > 1e6 for ms in r["ms_ratio"])


@pytest.mark.parametrize("freq, band", [(60.0, 0), (300.0, 1), (1000.0, 2), (4000.0, 3), (12000.0, 4)])
def test_a_sine_lands_in_its_band_with_its_pan_law(freq, band):
    t = np.arange(SR) / SR
    s = np.sin(2 * np.pi * freq * t)
    left, right = 0.8 * s, 0.2 * s  # same phase: correlation 1, M/S = (0.8-0.2)/(0.8+0.2)
    r = _bands(np.stack([left, right]))
    assert r["ms_ratio"][band] == pytest.approx(0.6, rel=1e-9)
    assert r["correlation"][band] == pytest.approx(1.0, abs=1e-9)
    assert r["folddown_db"][band] == pytest.approx(10 * math.log10(0.25 / (0.25 + 0.09)), abs=1e-6)
    # the far bands see only the window's leakage, many orders of magnitude below
    others = [b for b in range(5) if abs(b - band) > 1]
    total = StereoBands(SR)
    total.process(np.stack([left, right]))
    powers = total.band_powers()
    assert all(powers[0, b] < 1e-6 * powers[0, band] for b in others)


def test_any_block_split_gives_the_same_values():
    x = np.stack([_noise(seed=3), 0.5 * _noise(seed=3) + _noise(seed=4)])
    whole = _bands(x)
    for block in (1, 333, 4096, 5000):
        split = _bands(x[:, : SR // 2], block)
        ref = _bands(x[:, : SR // 2])
        for key in ("ms_ratio", "correlation", "folddown_db"):
            assert split[key] == pytest.approx(ref[key], rel=1e-9)
    assert whole["correlation"][2] == pytest.approx(0.5 / math.sqrt(0.25 + 1.0), abs=0.05)


def test_shorter_than_a_frame_is_one_padded_frame():
    n = _noise(0.05)
    r = _bands(np.stack([n, 0.5 * n]))
    assert r["ms_ratio"][2] == pytest.approx(1 / 3, rel=1e-6)


def test_meter_exposes_stereo_bands_only_for_views():
    x = np.stack([_noise(seed=5), _noise(seed=6)])
    plain = StreamingMeter(SR, 2)
    plain.process(x)
    assert plain.stereo_bands() is None
    views = StreamingMeter(SR, 2, spectrum=True)
    views.process(x)
    got, want = views.stereo_bands(), _bands(x)
    for key in ("ms_ratio", "correlation", "folddown_db"):
        assert got[key] == pytest.approx(want[key], rel=1e-6)


def _burst(amplitude: float, start_s: float, stop_s: float, seconds: float = 2.0) -> np.ndarray:
    """A sine at a quarter of the rate, phase 45 degrees: every sample sits at amplitude/sqrt(2), the waveform
    between them reaches the amplitude (3 dB of inter-sample peak)."""
    n = np.arange(int(SR * seconds))
    t = n / SR
    # 10 ms raised-cosine edges: a hard cut would ring above the amplitude
    fade = np.clip(np.minimum(t - start_s, stop_s - t) / 0.01, 0.0, 1.0)
    x = amplitude * np.sin(np.pi * n / 2 + np.pi / 4) * (0.5 - 0.5 * np.cos(np.pi * fade))
    return np.stack([x, x])


def test_true_peak_overs_are_where_the_waveform_passes_the_ceiling():
    x = _burst(10 ** (-0.5 / 20), 1.0, 1.25)  # true peak -0.5 dBTP, samples at -3.5 dBFS
    m = StreamingMeter(SR, 2, over_dbtp=-1.0)
    for s in range(0, x.shape[1], 4410):
        m.process(x[:, s:s + 4410])
    overs = m.true_peak_overs_s()
    assert overs, "a -0.5 dBTP burst goes over a -1 dBTP ceiling"
    # the fades reach -1 dB 1.9 ms in: the first and last overs sit within a 256-sample chunk (5.8 ms) of that
    assert min(overs) == pytest.approx(1.0, abs=0.012) and max(overs) == pytest.approx(1.25, abs=0.012)
    assert all(0.99 <= t <= 1.26 for t in overs)
    # the same burst under the ceiling: no overs, and the reading itself does not depend on tracking them
    quiet = StreamingMeter(SR, 2, over_dbtp=0.0)
    quiet.process(x)
    plain = StreamingMeter(SR, 2)
    plain.process(x)
    assert quiet.true_peak_overs_s() == []
    assert quiet.result()["true_peak_dbtp"] == plain.result()["true_peak_dbtp"]
    assert plain.result()["true_peak_dbtp"] == pytest.approx(-0.5, abs=0.05)
    assert plain.true_peak_overs_s() is None


def test_overs_between_samples_count_not_just_sample_peaks():
    # samples at -3.5 dBFS never pass -2 dBFS, the waveform between them does
    x = _burst(10 ** (-0.5 / 20), 0.5, 0.6, seconds=1.0)
    assert 20 * np.log10(np.abs(x).max()) < -2.0
    m = StreamingMeter(SR, 2, over_dbtp=-2.0)
    m.process(x)
    assert m.true_peak_overs_s()


def test_eq_curves_are_in_db_against_closed_forms():
    """A lone +6 dB peak reads +6 dB at its centre; a 100 Hz high-pass (two first-order stages) -6.02 dB at
    its corner; far from every band the curve is flat."""
    from automix.settings import MixSettings, PluginSettings, StemSettings
    from automix.views import eq_curves

    flat = {"highpass_hz": 10.0, "low_shelf_hz": 100.0, "low_shelf_gain_db": 0.0, "peak1_hz": 1000.0,
            "peak1_gain_db": 6.0, "peak1_q": 1.0, "peak2_hz": 3000.0, "peak2_gain_db": 0.0, "peak2_q": 1.0,
            "peak3_hz": 6000.0, "peak3_gain_db": 0.0, "peak3_q": 1.0, "high_shelf_hz": 8000.0,
            "high_shelf_gain_db": 0.0}
    hp = dict(flat, highpass_hz=100.0, peak1_gain_db=0.0)
    settings = MixSettings(48000, [StemSettings("a.wav", [PluginSettings("eq", flat)]),
                                   StemSettings("b.wav", [PluginSettings("eq", hp)])], [])
    views = eq_curves(settings)
    f = np.asarray(views["freqs_hz"])
    peak, high = np.asarray(views["stems"][0]["db"]), np.asarray(views["stems"][1]["db"])
    i = int(np.argmin(np.abs(np.log(f / 1000.0))))
    # the grid's nearest point to 1 kHz, and the bell's own closed form there (RBJ, Q 1)
    assert peak[i] == pytest.approx(6.0, abs=0.15) and abs(f[i] - 1000.0) < 60
    assert abs(peak[-1]) < 0.1
    assert peak[0] == pytest.approx(2 * -10 * np.log10(1 + (10.0 / f[0]) ** 2), abs=0.05)  # the 10 Hz high-pass
    j = int(np.argmin(np.abs(np.log(f / 100.0))))
    assert high[j] == pytest.approx(2 * -10 * np.log10(1 + (100.0 / f[j]) ** 2), abs=0.2)
    assert views["master"] is None


def test_the_fold_down_metered_in_the_stream_is_the_files(tmp_path):
    """StreamingMeter(folddown=True) gives what envelope.folddown_loss_file reads from the written file."""
    import soundfile as sf

    from automix.envelope import folddown_loss_file
    from tests.conftest import music_like

    sr = 44100
    x = music_like(6 * sr, sr, channels=2, seed=3)
    x[1] = 0.3 * x[1] - 0.5 * np.roll(x[0], 441)  # a wide, partly anti-phase image: a real fold-down loss
    meter = StreamingMeter(sr, 2, spectrum=True, folddown=True)
    for s in range(0, x.shape[1], 10000):
        meter.process(x[:, s:s + 10000])
    sf.write(tmp_path / "w.wav", x.T, sr, subtype="FLOAT")
    expected = folddown_loss_file(str(tmp_path / "w.wav"))
    assert expected > 0.5
    assert meter.folddown_loss_db() == pytest.approx(expected, abs=1e-9)
    assert StreamingMeter(sr, 2).folddown_loss_db() is None

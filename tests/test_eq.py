"""EQ plugin, JUCE coefficient design and the IIR kernel.

Parity is asserted against pedalboard itself. Where the platform libm is
available (automix.dsp.LIBM_EXACT) the float32 twin must be bit-exact; the
issue's contract (median <= -90 dB, worst <= -60 dB) is asserted everywhere.
"""
from __future__ import annotations

import math

import numpy as np
import pedalboard
import pytest
import scipy.signal
import torch

from automix.dsp import JUCE_SHELF_Q, LIBM_EXACT, juce_iir_f32, juce_iir_torch
from automix.kernels.iir import sosfilt, sosfilt_np
from automix.plugins.eq import PARAMS, PLUGIN, eq, eq_sections, pedalboard_filters
from tests.conftest import music_like, null_residual_db

RATES = [44100, 48000]
NAMES = [p.name for p in PARAMS]


def _noise(n: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((channels, n)) * 0.25).astype(np.float32)


def _pedalboard_single(kind, fs, f, q, g):
    if kind == "highpass1":
        return pedalboard.HighpassFilter(cutoff_frequency_hz=f)
    cls = {"low_shelf": pedalboard.LowShelfFilter, "peak": pedalboard.PeakFilter,
           "high_shelf": pedalboard.HighShelfFilter}[kind]
    return cls(cutoff_frequency_hz=f, gain_db=g, q=q)


def _assert_parity(residuals_db, what):
    r = np.asarray(residuals_db)
    if LIBM_EXACT:
        # Same libm, same float32 operation order: nothing may differ.
        assert np.all(np.isneginf(r)), f"{what}: not bit-exact, worst {r.max():.1f} dB"
    assert np.median(r) <= -90.0, f"{what}: median {np.median(r):.1f} dB"
    assert r.max() <= -60.0, f"{what}: worst {r.max():.1f} dB"


def _random_settings(rng, n):
    return [{s.name: float(s.from_unit(rng.uniform())) for s in PARAMS} for _ in range(n)]


# ---------------------------------------------------------------- per filter type

GRID = {
    "highpass1": [(f, None, None) for f in (10.0, 20.0, 47.3, 120.0, 440.0, 1000.0, 5000.0)],
    "low_shelf": [(f, q, g) for f in (30.0, 40.0, 120.0, 333.3, 1000.0) for q in (0.5, JUCE_SHELF_Q, 2.0)
                  for g in (-18.0, -3.5, 0.0, 6.0, 18.0)],
    "peak": [(f, q, g) for f in (40.0, 97.0, 250.0, 1000.0, 4000.0, 12000.0, 16000.0) for q in (0.3, 1.0, 6.0)
             for g in (-15.0, -0.5, 0.0, 4.2, 15.0)],
    "high_shelf": [(f, q, g) for f in (1000.0, 2500.0, 8000.0, 16000.0) for q in (0.5, JUCE_SHELF_Q, 2.0)
                   for g in (-18.0, -7.0, 0.0, 2.5, 18.0)],
}


@pytest.mark.parametrize("kind", list(GRID))
@pytest.mark.parametrize("fs", RATES)
def test_single_filter_parity_with_pedalboard(kind, fs):
    x = np.concatenate([_noise(4096, seed=1), music_like(4096, fs, 2, seed=2)], axis=1)
    res = []
    for f, q, g in GRID[kind]:
        ref = _pedalboard_single(kind, fs, f, q, g)(x, fs)
        sec = juce_iir_f32(kind, fs, f, q if q is not None else JUCE_SHELF_Q, g or 0.0)
        out = sosfilt_np(x[None], sec[None, None])[0]
        res.append(null_residual_db(ref, out))
    _assert_parity(res, f"{kind} @ {fs}")


@pytest.mark.parametrize("kind", list(GRID))
def test_float64_design_matches_juce_float32_values(kind):
    """The differentiable design is the same formula: it agrees with JUCE's float32 values to round-off."""
    fs = 44100
    for f, q, g in GRID[kind]:
        q = JUCE_SHELF_Q if q is None else q
        c32 = juce_iir_f32(kind, fs, f, q, g or 0.0).astype(np.float64)
        c64 = juce_iir_torch(kind, fs, torch.tensor([f]), torch.tensor([q]), torch.tensor([g or 0.0]))[0].numpy()
        np.testing.assert_allclose(c64, c32, rtol=0, atol=2e-6 * max(1.0, np.abs(c32).max()))


@pytest.mark.parametrize("fs", RATES)
def test_float64_design_known_responses(fs):
    """Shelf plateaus, peak centre gain and the first-order -3 dB point, from the float64 design."""

    def mag_db(sec, f):
        z = np.exp(-2j * np.pi * f / fs)
        b0, b1, b2, a1, a2 = sec
        return 20 * np.log10(abs((b0 + b1 * z + b2 * z * z) / (1 + a1 * z + a2 * z * z)))

    def design(kind, f, q, g):
        return juce_iir_torch(kind, fs, torch.tensor([f]), torch.tensor([q]), torch.tensor([g]))[0].numpy()

    for g in (-18.0, -6.0, 9.0):
        assert mag_db(design("low_shelf", 120.0, JUCE_SHELF_Q, g), 0.0) == pytest.approx(g, abs=1e-9)
        assert mag_db(design("low_shelf", 120.0, JUCE_SHELF_Q, g), fs / 2) == pytest.approx(0.0, abs=1e-9)
        assert mag_db(design("high_shelf", 4000.0, JUCE_SHELF_Q, g), fs / 2) == pytest.approx(g, abs=1e-9)
        assert mag_db(design("high_shelf", 4000.0, JUCE_SHELF_Q, g), 0.0) == pytest.approx(0.0, abs=1e-9)
        assert mag_db(design("peak", 1000.0, 2.0, g), 1000.0) == pytest.approx(g, abs=1e-9)
        # A shelf at Q 1/sqrt(2) is halfway (in dB) at its corner.
        assert mag_db(design("low_shelf", 300.0, JUCE_SHELF_Q, g), 300.0) == pytest.approx(g / 2, abs=1e-9)
    hp = design("highpass1", 100.0, 1.0, 0.0)
    assert mag_db(hp, 100.0) == pytest.approx(-10 * math.log10(2), abs=1e-9)
    # Two first-order stages: about -40 dB a decade below the cutoff (12 dB/oct).
    assert 2 * mag_db(hp, 10.0) == pytest.approx(-40.0, abs=0.1)


# ---------------------------------------------------------------- full EQ

@pytest.mark.parametrize("fs", RATES)
def test_full_eq_random_sweep_parity(fs):
    rng = np.random.default_rng(fs)
    x = music_like(fs // 2, fs, 2, seed=5)
    res = []
    for p in _random_settings(rng, 24):
        ref = pedalboard.Pedalboard(pedalboard_filters(fs, **p))(x, fs)
        out = eq(torch.from_numpy(x)[None], fs, **p)[0].numpy()
        res.append(null_residual_db(ref, out))
    _assert_parity(res, f"full EQ @ {fs}")


def test_full_eq_extremes_and_defaults_parity():
    """Every range corner that stresses float32 most (low, narrow, loud) and the defaults."""
    fs = 44100
    x = _noise(fs // 2, seed=9)
    lo = {s.name: s.minimum for s in PARAMS}
    hi = {s.name: s.maximum for s in PARAMS}
    mixed = {n: (lo if i % 2 else hi)[n] for i, n in enumerate(NAMES)}
    res = []
    for p in (lo, hi, mixed, PLUGIN.defaults()):
        ref = pedalboard.Pedalboard(pedalboard_filters(fs, **p))(x, fs)
        res.append(null_residual_db(ref, eq(torch.from_numpy(x)[None], fs, **p)[0].numpy()))
    _assert_parity(res, "range corners")


def test_cutoffs_above_nyquist_are_clamped_like_pedalboard():
    fs = 16000  # high shelf and peaks at 16 kHz sit above fs/2 - 100
    p = dict(PLUGIN.defaults(), high_shelf_hz=16000.0, high_shelf_gain_db=-9.0, peak3_hz=12000.0,
             peak3_gain_db=6.0, highpass_hz=1000.0)
    x = _noise(8000, seed=4)
    ref = pedalboard.Pedalboard(pedalboard_filters(fs, **p))(x, fs)
    out = eq(torch.from_numpy(x)[None], fs, **p)[0].numpy()
    _assert_parity([null_residual_db(ref, out)], "clamped cutoffs")
    assert np.all(np.isfinite(out))


def test_pedalboard_filters_are_the_seven_stages_in_order():
    p = PLUGIN.defaults()
    stages = pedalboard_filters(44100, **p)
    assert [type(s).__name__ for s in stages] == [
        "HighpassFilter", "HighpassFilter", "LowShelfFilter", "PeakFilter", "PeakFilter", "PeakFilter",
        "HighShelfFilter"]
    assert stages[3].cutoff_frequency_hz == pytest.approx(250.0)
    assert stages[2].q == pytest.approx(JUCE_SHELF_Q) and stages[6].q == pytest.approx(JUCE_SHELF_Q)


def test_spec_names_match_keywords_and_ranges_are_generous():
    assert PLUGIN.name == "eq" and PLUGIN.param_names == tuple(NAMES)
    assert len(NAMES) == 14
    for shelf in ("low_shelf_gain_db", "high_shelf_gain_db"):
        assert PLUGIN.spec(shelf).minimum <= -18 and PLUGIN.spec(shelf).maximum >= 18
    for s in PARAMS:
        assert s.scale == ("log" if s.name.endswith(("_hz", "_q")) else "linear")


def test_high_shelf_cut_lowers_the_spectral_centroid():
    """The tonal move the presets need: a deep high-shelf cut plus low-shelf lift halves the centroid."""
    fs = 44100
    x = _noise(fs, channels=1, seed=11)

    def centroid(y):
        spec = np.abs(np.fft.rfft(y[0].astype(np.float64))) ** 2
        freqs = np.fft.rfftfreq(y.shape[-1], 1 / fs)
        return float((spec * freqs).sum() / spec.sum())

    p = dict(PLUGIN.defaults(), high_shelf_hz=1500.0, high_shelf_gain_db=-18.0, low_shelf_hz=300.0,
             low_shelf_gain_db=12.0)
    y = eq(torch.from_numpy(x)[None], fs, **p)[0].numpy()
    assert centroid(y) < 0.5 * centroid(x)


# ---------------------------------------------------------------- shapes and batching

@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_tiny_buffers(channels, n):
    fs = 44100
    p = dict(PLUGIN.defaults(), peak2_gain_db=6.0)
    x = _noise(max(n, 1), channels, seed=n)[:, :n]
    y = eq(torch.from_numpy(x)[None], fs, **p)
    assert y.shape == (1, channels, n) and y.dtype == torch.float32
    assert torch.isfinite(y).all()
    if n:
        # JUCE's loop from zero state, sample by sample in float32.
        sos = eq_sections(fs, **p)[0].numpy().astype(np.float32)
        state = np.zeros((channels, 7, 2), np.float32)
        expect = np.empty_like(x)
        for i in range(n):
            v = x[:, i].copy()
            for k, (b0, b1, b2, a1, a2) in enumerate(sos):
                out = v * b0 + state[:, k, 0]
                state[:, k, 0] = v * b1 - out * a1 + state[:, k, 1]
                state[:, k, 1] = v * b2 - out * a2
                v = out
            expect[:, i] = v
        np.testing.assert_array_equal(y[0].numpy(), expect)


def test_mono_equals_each_channel_of_stereo_and_matches_pedalboard():
    fs = 48000
    p = _random_settings(np.random.default_rng(3), 1)[0]
    x = music_like(6000, fs, 2, seed=8)
    stereo = eq(torch.from_numpy(x)[None], fs, **p)[0]
    for c in range(2):
        mono = eq(torch.from_numpy(x[c:c + 1])[None], fs, **p)[0]
        assert torch.equal(mono[0], stereo[c])
        ref = pedalboard.Pedalboard(pedalboard_filters(fs, **p))(x[c:c + 1], fs)
        _assert_parity([null_residual_db(ref, mono.numpy())], "mono")


def test_batched_call_equals_stacked_single_calls():
    fs = 44100
    settings = _random_settings(np.random.default_rng(21), 3)
    x = torch.from_numpy(np.stack([music_like(3000, fs, 2, seed=s) for s in range(3)]))
    batched = eq(x, fs, **{n: torch.tensor([s[n] for s in settings]) for n in NAMES})
    singles = torch.cat([eq(x[i:i + 1], fs, **settings[i]) for i in range(3)])
    assert torch.equal(batched, singles)
    # Scalars broadcast over the batch.
    same = eq(x, fs, **settings[0])
    assert torch.equal(same[0], batched[0])


def test_rejects_bad_shapes_and_dtypes():
    sos = torch.zeros(1, 1, 5)
    with pytest.raises(ValueError):
        sosfilt(torch.zeros(1, 8), sos)
    with pytest.raises(ValueError):
        sosfilt(torch.zeros(2, 1, 8), sos)
    with pytest.raises(TypeError):
        sosfilt(torch.zeros(1, 1, 8, dtype=torch.float16), sos)


# ---------------------------------------------------------------- kernel and gradients

def test_kernel_float64_matches_scipy_sosfilt():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5000))
    sections = np.stack([np.stack([juce_iir_f32("peak", 44100, 300.0 * (b + 1), 2.0, 6.0),
                                   juce_iir_f32("highpass1", 44100, 80.0 * (b + 1)),
                                   juce_iir_f32("high_shelf", 44100, 5000.0, JUCE_SHELF_Q, -9.0)])
                         for b in range(2)]).astype(np.float64)
    y = sosfilt_np(x, sections)
    for b in range(2):
        sos = np.concatenate([sections[b, :, :3], np.ones((3, 1)), sections[b, :, 3:]], axis=1)
        np.testing.assert_allclose(y[b], scipy.signal.sosfilt(sos, x[b], axis=-1), rtol=0, atol=1e-12)


def test_kernel_gradcheck_biquads_and_first_order():
    torch.manual_seed(0)
    x = torch.randn(2, 2, 40, dtype=torch.float64, requires_grad=True)
    sos = torch.tensor([[[0.4, 0.2, 0.1, -0.6, 0.25], [0.9, -0.9, 0.0, -0.8, 0.0]],
                        [[1.2, -1.1, 0.3, -1.5, 0.6], [0.5, 0.1, -0.2, 0.3, 0.1]]],
                       dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(sosfilt, (x, sos))


def test_eq_gradcheck_float64_every_parameter():
    fs = 44100
    torch.manual_seed(1)
    x = torch.randn(2, 1, 64, dtype=torch.float64, requires_grad=True)
    rng = np.random.default_rng(2)
    params = [torch.tensor([s.from_unit(rng.uniform(0.1, 0.9)) for _ in range(2)], dtype=torch.float64,
                           requires_grad=True) for s in PARAMS]

    def fn(x, *values):
        return eq(x, fs, **dict(zip(NAMES, values)))

    assert torch.autograd.gradcheck(fn, (x, *params), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_float32_gradients_follow_the_float64_design():
    """Straight-through: the float32 path's gradients equal the float64 path's to round-off."""
    fs = 48000
    p = _random_settings(np.random.default_rng(7), 2)
    x64 = torch.from_numpy(np.stack([music_like(4000, fs, 2, seed=s) for s in (1, 2)]).astype(np.float64))
    grads = {}
    for dtype in (torch.float32, torch.float64):
        xx = x64.to(dtype).requires_grad_(True)
        ps = {n: torch.tensor([p[0][n], p[1][n]], dtype=torch.float64, requires_grad=True) for n in NAMES}
        y = eq(xx, fs, **ps)
        assert y.dtype == dtype
        (y.double() ** 2).mean().backward()
        grads[dtype] = [xx.grad.double()] + [ps[n].grad for n in NAMES]
    for g32, g64 in zip(grads[torch.float32], grads[torch.float64]):
        assert torch.isfinite(g32).all()
        # The float32 forward itself differs from the float64 design by JUCE's
        # float32 round-off (up to ~-60 dB for low, narrow peaks), so the two
        # gradients agree to ~1e-3, not to machine precision. A broken
        # straight-through (zero or float32-rounded derivatives) misses by O(1).
        scale = g64.abs().max().clamp(min=1e-12)
        assert ((g32 - g64).abs().max() / scale) < 1e-2


def test_every_parameter_moves_the_output():
    """No parameter is silently dropped: each one has a nonzero gradient at a non-trivial setting."""
    fs = 44100
    x = torch.from_numpy(music_like(4000, fs, 1, seed=3))[None]
    p = dict(PLUGIN.defaults(), low_shelf_gain_db=6.0, peak1_gain_db=-6.0, peak2_gain_db=6.0,
             peak3_gain_db=-6.0, high_shelf_gain_db=6.0, highpass_hz=80.0)
    ps = {n: torch.tensor([v], dtype=torch.float64, requires_grad=True) for n, v in p.items()}
    eq(x, fs, **ps).pow(2).sum().backward()
    for n in NAMES:
        assert ps[n].grad is not None and ps[n].grad.abs().item() > 0, n


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_kernel_gradients_on_tiny_buffers(n):
    """The adjoint's boundary samples (n < 3) are handled outside its main loop: check them."""
    torch.manual_seed(n)
    x = torch.randn(1, 2, n, dtype=torch.float64, requires_grad=True)
    sos = torch.tensor([[[0.4, 0.2, 0.1, -0.6, 0.25], [0.9, -0.9, 0.0, -0.8, 0.0]]],
                       dtype=torch.float64, requires_grad=True)
    if n == 0:
        sosfilt(x, sos).sum().backward()
        assert x.grad.shape == (1, 2, 0) and torch.equal(sos.grad, torch.zeros_like(sos))
    else:
        assert torch.autograd.gradcheck(sosfilt, (x, sos))

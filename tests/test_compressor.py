"""Tests for the compressor plugin: pedalboard parity, gradients, batching, edge cases.

The parity metric is the null residual ``10*log10(sum((y - ref)^2) / sum(ref^2))``
against the production twin (``pedalboard.Compressor`` + ``pedalboard.Gain``);
a bit-exact match is floored to about -3000 dB.
"""
from __future__ import annotations

import inspect
import math
import platform

import numpy as np
import pytest
import torch

from automix.errors import ParameterError
from automix.kernels.ballistics import compressor_forward
from automix.plugins.compressor import PLUGIN, build, compressor, pedalboard_graph

RATES = (44100, 48000)
SIGNAL_SECONDS = 0.5


# --------------------------------------------------------------------------- signals
def _noise_bursts(sample_rate: int, channels: int, rng) -> np.ndarray:
    """50 ms bursts of white noise (the first at full level, then -30..0 dB), 50 ms quiet gaps."""
    n = int(SIGNAL_SECONDS * sample_rate)
    x = rng.standard_normal((channels, n)) * 0.4
    seg = int(0.05 * sample_rate)
    env = np.full(n, 0.01)
    for k, start in enumerate(range(0, n, 2 * seg)):
        env[start:start + seg] = 10.0 ** (rng.uniform(-30, 0) / 20) if k else 1.0
    return np.clip(x * env, -1, 1).astype(np.float32)


def _drums(sample_rate: int, channels: int, rng) -> np.ndarray:
    """A hit every 125 ms: noise decaying in 15 ms plus a 60 Hz body decaying in 80 ms."""
    n = int(SIGNAL_SECONDS * sample_rate)
    x = np.zeros((channels, n))
    hit = int(0.125 * sample_rate)
    t = np.arange(hit) / sample_rate
    for ch in range(channels):
        for k, start in enumerate(range(0, n - hit + 1, hit)):
            level = 0.9 if k % 2 == 0 else 0.5
            burst = rng.standard_normal(hit) * np.exp(-t / 0.015) * 0.6
            body = np.sin(2 * np.pi * 60 * t + ch) * np.exp(-t / 0.08)
            x[ch, start:start + hit] = level * (burst + body) / 1.2
    return x.astype(np.float32)


def _sine_envelope(sample_rate: int, channels: int, rng) -> np.ndarray:
    """Sines (220 Hz, 330 Hz on the second channel) under a swell: -40 dB -> -1 dB -> -20 dB."""
    n = int(SIGNAL_SECONDS * sample_rate)
    t = np.arange(n) / sample_rate
    env_db = np.interp(t, [0, 0.1, 0.2, 0.35, SIGNAL_SECONDS], [-40, -1, -6, -20, -20])
    x = np.stack([np.sin(2 * np.pi * (220 + 110 * ch) * t + rng.uniform(0, 2 * np.pi)) for ch in range(channels)])
    return (x * 10.0 ** (env_db / 20)).astype(np.float32)


SIGNALS = {"noise_bursts": _noise_bursts, "drums": _drums, "sine_envelope": _sine_envelope}

# (threshold_db, ratio, attack_ms, release_ms, makeup_db): every row compresses every signal
GRID = [
    (-24.0, 4.0, 10.0, 100.0, 6.0),
    (-40.0, 20.0, 0.1, 10.0, 24.0),
    (-12.0, 2.0, 1.0, 300.0, 0.0),
    (-6.0, 8.0, 5.0, 1000.0, 3.0),
    (-30.0, 1.5, 100.0, 50.0, 12.0),
    (-17.3, 3.3, 0.37, 27.0, 7.7),
]
NAMES = ("threshold_db", "ratio", "attack_ms", "release_ms", "makeup_db")


def _pedalboard(x: np.ndarray, sample_rate: int, params: dict) -> np.ndarray:
    out = x
    for stage in pedalboard_graph(**params):
        out = stage(out, sample_rate)
    return out


def _torch(x: np.ndarray, sample_rate: int, params: dict) -> np.ndarray:
    return compressor(torch.from_numpy(x)[None], sample_rate, **params)[0].numpy()


def _null_db(y: np.ndarray, ref: np.ndarray) -> float:
    res = float(np.sum((y.astype(np.float64) - ref.astype(np.float64)) ** 2))
    return 10 * math.log10(max(res, 1e-300) / float(np.sum(ref.astype(np.float64) ** 2)))


def _max_gain_reduction_db(x: np.ndarray, sample_rate: int, params: dict) -> float:
    y = _torch(x, sample_rate, {**params, "makeup_db": 0.0})
    loud = np.abs(x) > 1e-3
    return float(-np.min(20 * np.log10(np.abs(y[loud]) / np.abs(x[loud]))))


# --------------------------------------------------------------------------- parity
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("signal", list(SIGNALS))
@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("setting", GRID, ids=lambda s: "thr{}_r{}_a{}_rel{}_mk{}".format(*s))
def test_parity_with_pedalboard_grid(setting, sample_rate, signal, channels):
    params = dict(zip(NAMES, setting))
    x = SIGNALS[signal](sample_rate, channels, np.random.default_rng(7))
    # the case must exercise the compressor, or parity would be trivially met
    assert _max_gain_reduction_db(x, sample_rate, params) > 1.0
    ref = _pedalboard(x, sample_rate, params)
    y = _torch(x, sample_rate, params)
    assert y.shape == ref.shape and y.dtype == np.float32
    assert _null_db(y, ref) <= -90.0


def test_parity_random_sweep():
    """Random settings anywhere in the spec ranges; asserts median and worst null."""
    rng = np.random.default_rng(2024)
    nulls = []
    for _ in range(40):
        params = {spec.name: float(spec.from_unit(rng.uniform())) for spec in PLUGIN.params}
        sample_rate = int(rng.choice(RATES))
        signal = SIGNALS[str(rng.choice(list(SIGNALS)))](sample_rate, int(rng.integers(1, 3)), rng)
        # a float32 level shift so thresholds meet the signal at varied depths
        signal = (signal * np.float32(10 ** (rng.uniform(-12, 6) / 20))).astype(np.float32)
        nulls.append(_null_db(_torch(signal, sample_rate, params), _pedalboard(signal, sample_rate, params)))
    nulls = np.array(nulls)
    assert np.median(nulls) <= -120.0, nulls
    assert nulls.max() <= -100.0, nulls
    if platform.machine().lower() in ("x86_64", "amd64"):
        # Measured: all 40 bit-exact. One float32 rounding done differently (for
        # example 1/ratio - 1 in float64) still nulls at -130..-160 dB but breaks
        # bit-exactness in about a third of the cases; only this catches it.
        # Not asserted elsewhere: compilers for ARM may contract the envelope
        # update into an FMA inside pedalboard.
        assert np.mean(nulls < -1000.0) >= 0.9, nulls


def test_single_sample_matches_pedalboard_and_closed_form():
    params = dict(threshold_db=-12.0, ratio=4.0, attack_ms=0.1, release_ms=100.0, makeup_db=2.0)
    fs = 44100
    x = np.array([[0.9]], dtype=np.float32)
    y = _torch(x, fs, params)
    assert np.array_equal(y, _pedalboard(x, fs, params))
    # closed form from a zero envelope: attack branch, env = (1 - c_a) |x|
    c_a = math.exp(-2 * math.pi * 1000 / (fs * 0.1))
    env = 0.9 * (1 - c_a)
    thr = 10 ** (-12 / 20)
    gain = (env / thr) ** (1 / 4 - 1) if env >= thr else 1.0
    assert env >= thr  # the single sample is compressed
    assert y[0, 0] == pytest.approx(0.9 * gain * 10 ** (2 / 20), rel=1e-6)


# --------------------------------------------------------------------------- gradients
def _gradcheck_case():
    """Short float64 batch whose envelope crosses the threshold in both directions.

    fs = 8 kHz makes the coefficients far from 1 so a 64-sample buffer sees
    attack, release, above and below threshold.
    """
    fs, n = 8000, 64
    t = np.arange(n)
    base = np.sin(2 * np.pi * t * 440 / fs + 0.7) * (0.2 + 0.8 * np.exp(-t / 20.0))
    pair = np.stack([base, 0.5 * np.roll(base, 5)])
    x = np.stack([pair, 0.7 * pair])
    params = dict(
        threshold_db=np.array([-12.0, -18.0]),
        ratio=np.array([4.0, 2.5]),
        attack_ms=np.array([1.0, 3.0]),
        release_ms=np.array([10.0, 30.0]),
        makeup_db=np.array([3.0, 0.5]),
    )
    return fs, x, params


def test_gradcheck_case_is_meaningful():
    """Both branches of both switches occur, and no sample sits near a switch."""
    fs, x, p = _gradcheck_case()
    exp_factor = -2.0 * math.pi * 1000.0 / fs
    ca = np.exp(exp_factor / p["attack_ms"])
    cr = np.exp(exp_factor / p["release_ms"])
    thr = 10 ** (p["threshold_db"] / 20)
    ratio = p["ratio"]
    y, env = np.empty_like(x), np.empty_like(x)
    compressor_forward(x, ca, cr, thr, 1 / thr, 1 / ratio - 1, np.zeros(x.shape[:2]), y, env)
    prev = np.concatenate([np.zeros(x.shape[:2] + (1,)), env[..., :-1]], axis=-1)
    attack = np.abs(x) > prev
    above = env >= thr[:, None, None]
    assert attack.any() and (~attack).any() and above.any() and (~above).any()
    # gradcheck's eps=1e-6 moves |x|, env and thr by ~1e-6 at most: stay 500x away
    assert np.min(np.abs(np.abs(x) - prev)) > 5e-4
    assert np.min(np.abs(env - thr[:, None, None])) > 5e-4
    assert np.min(np.abs(x)) > 5e-4


def test_gradcheck_float64_all_inputs():
    fs, x, p = _gradcheck_case()
    inputs = [torch.tensor(x, requires_grad=True)] + [torch.tensor(p[k], requires_grad=True) for k in NAMES]

    def fn(x, *params):
        return compressor(x, fs, **dict(zip(NAMES, params)))

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-4)


def test_float32_gradients_agree_with_float64():
    """The float32 path (exact forward, float64 backward) yields the float64 gradients."""
    fs = 44100
    x = _drums(fs, 2, np.random.default_rng(3))[None, :, :4000]
    grads = {}
    for dtype in (torch.float32, torch.float64):
        xt = torch.tensor(x, dtype=dtype, requires_grad=True)
        ps = {k: torch.tensor([v], dtype=torch.float64, requires_grad=True) for k, v in zip(NAMES, GRID[0])}
        y = compressor(xt, fs, **ps)
        (y.double() ** 2).sum().backward()
        grads[dtype] = [xt.grad.double()] + [ps[k].grad for k in NAMES]
    for g32, g64 in zip(grads[torch.float32], grads[torch.float64]):
        assert torch.all(torch.isfinite(g32))
        assert torch.linalg.norm(g32 - g64) <= 1e-3 * torch.linalg.norm(g64)
        assert torch.linalg.norm(g64) > 0


# --------------------------------------------------------------------------- structure
def test_batch_consistency_per_item_params():
    fs = 48000
    rng = np.random.default_rng(11)
    x = np.stack([_drums(fs, 2, rng), _noise_bursts(fs, 2, rng), _sine_envelope(fs, 2, rng)])
    rows = [GRID[0], GRID[1], GRID[5]]
    batched = compressor(
        torch.from_numpy(x), fs,
        **{k: torch.tensor([r[i] for r in rows], dtype=torch.float64) for i, k in enumerate(NAMES)},
    )
    singles = torch.cat([compressor(torch.from_numpy(x[i:i + 1]), fs, **dict(zip(NAMES, rows[i])))
                         for i in range(3)])
    assert torch.equal(batched, singles)


def test_channels_are_not_linked():
    """A loud left channel must not reduce the right one (JUCE is per channel)."""
    fs = 44100
    rng = np.random.default_rng(5)
    right = _sine_envelope(fs, 1, rng)[0] * np.float32(0.1)  # peaks near -21 dBFS
    left = _drums(fs, 1, rng)[0]
    params = dict(threshold_db=-24.0, ratio=10.0, attack_ms=1.0, release_ms=100.0, makeup_db=0.0)
    y = _torch(np.stack([left, right]), fs, params)
    y_right_alone = _torch(right[None], fs, params)[0]
    assert np.array_equal(y[1], y_right_alone)
    assert _max_gain_reduction_db(left[None], fs, params) > 6.0  # the left really is compressed
    assert np.array_equal(y, _pedalboard(np.stack([left, right]), fs, params))


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_empty_buffer(channels, dtype):
    x = torch.zeros((2, channels, 0), dtype=dtype, requires_grad=True)
    thr = torch.tensor([-20.0, -10.0], dtype=torch.float64, requires_grad=True)
    y = compressor(x, 44100, threshold_db=thr, ratio=4.0, attack_ms=1.0, release_ms=50.0, makeup_db=3.0)
    assert y.shape == (2, channels, 0) and y.dtype == dtype
    y.sum().backward()
    assert x.grad.shape == x.shape and torch.equal(thr.grad, torch.zeros(2, dtype=torch.float64))


def test_one_sample_stereo_closed_form():
    fs = 48000
    x = torch.tensor([[[0.8], [-0.05]]], dtype=torch.float32)
    y = compressor(x, fs, threshold_db=-20.0, ratio=2.0, attack_ms=0.5, release_ms=100.0, makeup_db=0.0)
    c_a = math.exp(-2 * math.pi * 1000 / (fs * 0.5))
    env = 0.8 * (1 - c_a)
    assert env > 0.1
    assert float(y[0, 0, 0]) == pytest.approx(0.8 * (env / 0.1) ** (0.5 - 1), rel=1e-6)
    assert y[0, 1, 0] == x[0, 1, 0]  # below threshold: untouched, bit for bit


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_defaults_are_identity(dtype):
    fs = 44100
    x = _drums(fs, 2, np.random.default_rng(1)) * np.float32(2.0)  # +5 dBFS peaks: above 0 dB threshold
    xt = torch.tensor(x[None], dtype=dtype)
    assert torch.equal(compressor(xt, fs, **PLUGIN.defaults()), xt)
    assert np.array_equal(_pedalboard(x, fs, PLUGIN.defaults()), x)


def test_spec_matches_signatures_and_ranges():
    assert PLUGIN.name == "compressor"
    kw = [p.name for p in inspect.signature(compressor).parameters.values() if p.kind == p.KEYWORD_ONLY]
    assert tuple(kw) == PLUGIN.param_names == NAMES
    assert set(inspect.signature(build).parameters) - {"sample_rate"} == set(NAMES)
    for spec in PLUGIN.params:  # the production stage and the pedalboard twin accept the whole range
        for value in (spec.minimum, spec.maximum):
            build(44100, **{**PLUGIN.defaults(), spec.name: value})
            pedalboard_graph(**{**PLUGIN.defaults(), spec.name: value})


def test_invalid_input_raises():
    x = torch.zeros((1, 2, 10))
    with pytest.raises(ParameterError, match="ratio"):
        compressor(x, 44100, threshold_db=-10.0, ratio=0.5, attack_ms=1.0, release_ms=10.0, makeup_db=0.0)
    with pytest.raises(ParameterError, match="threshold_db"):
        compressor(x, 44100, threshold_db=float("nan"), ratio=2.0, attack_ms=1.0, release_ms=10.0, makeup_db=0.0)
    with pytest.raises(ParameterError, match="batch, channels, samples"):
        compressor(x[0], 44100, threshold_db=-10.0, ratio=2.0, attack_ms=1.0, release_ms=10.0, makeup_db=0.0)

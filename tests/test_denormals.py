"""Denormals are flushed while the production chain runs, and only there."""
import numpy as np
import pedalboard
import pytest

from automix.engines.pedalboard_engine import StreamingChain, build_stages
from automix.kernels import denormals
from automix.plugins.eq import pedalboard_filters
from automix.settings import PluginSettings

pytestmark = pytest.mark.skipif(not denormals.SUPPORTED, reason="flush-to-zero is set on x86 only")

TINY = np.float32(1e-39)  # a float32 denormal (the smallest normal is 1.18e-38)


def _subnormal(x: np.ndarray) -> int:
    return int(np.count_nonzero((x != 0) & (np.abs(x) < np.finfo(np.float32).tiny)))


def test_flushed_sets_ftz_and_daz_and_restores_the_thread_mode():
    before = denormals.mode()
    with denormals.flushed():
        inside = denormals.mode()
        assert inside & denormals.FTZ_DAZ == denormals.FTZ_DAZ
        assert np.array([TINY]) * np.float32(0.5) == 0.0  # the CPU flushes the result
    assert denormals.mode() & denormals.FTZ_DAZ == before & denormals.FTZ_DAZ
    assert np.array([TINY], np.float32)[0] * np.float32(0.5) > 0.0  # numpy outside sees IEEE arithmetic again


def test_the_engine_flushes_denormals_that_bare_pedalboard_passes_through():
    sr = 44100
    x = np.full((2, 4096), TINY, np.float32)
    x[:, ::2] = -TINY
    chain = [PluginSettings("gain", {"gain_db": 6.0})]
    bare = pedalboard.Pedalboard([p for s in build_stages(sr, chain) for p in s])(x, sr)
    assert _subnormal(bare) == x.size  # IEEE arithmetic: 2e-39, still denormal
    out = StreamingChain(build_stages(sr, chain), sr, 4096).process(x)
    assert _subnormal(out) == 0 and not out.any()


def test_flushing_changes_nothing_above_the_denormal_range():
    sr = 44100
    rng = np.random.default_rng(0)
    x = np.zeros((2, sr * 4), np.float32)  # a burst, then a filter decaying through silence
    x[:, :sr // 10] = rng.standard_normal((2, sr // 10)).astype(np.float32) * 0.3
    chain = [PluginSettings("eq", {"highpass_hz": 25.0, "low_shelf_hz": 120.0, "low_shelf_gain_db": 2.0,
                                   "peak1_hz": 60.0, "peak1_gain_db": -3.0, "peak1_q": 0.6,
                                   "peak2_hz": 1000.0, "peak2_gain_db": 0.0, "peak2_q": 1.0,
                                   "peak3_hz": 4000.0, "peak3_gain_db": 0.0, "peak3_q": 1.0,
                                   "high_shelf_hz": 8000.0, "high_shelf_gain_db": 1.0})]
    board = pedalboard.Pedalboard(pedalboard_filters(sr, **chain[0].params))  # IEEE arithmetic, unflushed
    bare = np.concatenate([board.process(x[:, i:i + 8192], sr, buffer_size=8192, reset=False)
                           for i in range(0, x.shape[1], 8192)], axis=1)
    stream = StreamingChain(build_stages(sr, chain), sr, 8192)
    out = np.concatenate([stream.process(x[:, i:i + 8192]) for i in range(0, x.shape[1], 8192)], axis=1)
    assert out.shape == bare.shape
    assert np.max(np.abs(out.astype(np.float64) - bare)) < 1e-30

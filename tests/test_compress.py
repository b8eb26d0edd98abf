"""The compressor's one-pass production stage against pedalboard's Compressor + Gain, bit for bit, streamed."""
from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from automix.dsp import LIBM_EXACT
from automix.engines.pedalboard_engine import StreamingChain, build_stages
from automix.kernels.compress import Compress
from automix.plugins.compressor import pedalboard_graph
from automix.settings import PluginSettings
from tests.conftest import music_like

pytestmark = pytest.mark.skipif(not LIBM_EXACT, reason="the one-pass stage runs only where powf is the C library's")

NAMES = ("threshold_db", "ratio", "attack_ms", "release_ms", "makeup_db")
# every row compresses the signal below; the last ones sit at the ranges' ends
SETTINGS = [(-24.0, 4.0, 10.0, 100.0, 6.0), (-29.24, 4.917, 16.8, 87.2, 0.0), (-40.0, 20.0, 0.1, 10.0, 24.0),
            (-6.0, 1.5, 100.0, 1000.0, 3.3), (-60.0, 1.0, 0.1, 10.0, 0.0), (0.0, 20.0, 100.0, 1000.0, 0.0)]


def _stream(stages, x: np.ndarray, sample_rate: int, block: int) -> np.ndarray:
    chain = StreamingChain(stages, sample_rate, block)
    out = [chain.process(x[:, s:s + block]) for s in range(0, x.shape[1], block)]
    return np.concatenate(out + [chain.flush()], axis=1)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "thr{}_r{}_a{}_rel{}_mk{}".format(*s))
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("sample_rate", [44100, 48000])
def test_the_one_pass_stage_is_pedalboards_compressor_and_gain(setting, channels, sample_rate):
    params = dict(zip(NAMES, setting))
    x = music_like(3 * sample_rate + 123, sample_rate, channels, seed=5) * np.float32(1.4)  # past full scale too
    x[:, :5000] *= np.float32(1e-33)  # values that denormals-as-zero takes to zero, in both
    x[:, 9000:40000] = 0.0  # the envelope decays through silence across a block boundary
    built = build_stages(sample_rate, [PluginSettings("compressor", params)])
    assert len(built) == 1 and isinstance(built[0], Compress)
    reference = [pedalboard.Pedalboard(pedalboard_graph(**params))]
    for block in (65536, 4096, 1000):
        got = _stream(build_stages(sample_rate, [PluginSettings("compressor", params)]), x, sample_rate, block)
        want = _stream(reference, x, sample_rate, block)
        reference = [pedalboard.Pedalboard(pedalboard_graph(**params))]
        assert got.dtype == want.dtype == np.float32
        assert np.array_equal(got, want)
    if params["ratio"] > 1.0 and params["threshold_db"] < 0.0:
        # the stage compresses: where it reduces, the output is below the input (times the makeup)
        factor = np.float32(10 ** (params["makeup_db"] / 20))
        assert np.any(np.abs(got) < np.abs(x) * factor * np.float32(0.99))


def test_the_stage_follows_the_closed_form_on_a_step():
    """A held level above the threshold settles at the static curve: out = thr * (in / thr) ** (1 / ratio)."""
    sr = 48000
    x = np.full((2, sr), 0.5, np.float32)  # -6 dBFS for a second
    y = Compress(sr, threshold_db=-20.0, ratio=4.0, attack_ms=1.0, release_ms=50.0, makeup_db=0.0).process(x)
    thr = 10 ** (-20 / 20)
    np.testing.assert_allclose(y[:, -1], thr * (0.5 / thr) ** 0.25, rtol=1e-5)


def test_state_carries_across_blocks():
    """Split anywhere, the stream is one call's output (the envelope carries over)."""
    sr = 44100
    x = music_like(sr, sr, 2, seed=9)
    params = dict(threshold_db=-30.0, ratio=6.0, attack_ms=3.0, release_ms=120.0, makeup_db=4.0)
    whole = Compress(sr, **params).process(x)
    node = Compress(sr, **params)
    parts = [node.process(x[:, a:b]) for a, b in ((0, 7), (7, 30000), (30000, 30001), (30001, sr))]
    assert np.array_equal(np.concatenate(parts, axis=1), whole)


def test_a_gain_ahead_is_folded_into_the_stage_with_the_same_bits():
    """The master's trim (pedalboard's Gain) before its compressor becomes the stage's input factor."""
    sr = 44100
    params = dict(zip(NAMES, SETTINGS[0]))
    chain = [PluginSettings("gain", {"gain_db": -4.41}), PluginSettings("compressor", params)]
    x = music_like(2 * sr, sr, 2, seed=3)
    (stage,) = build_stages(sr, chain)
    assert isinstance(stage, Compress) and stage.input_gain != 1
    reference = [pedalboard.Pedalboard([pedalboard.Gain(gain_db=-4.41)] + pedalboard_graph(**params))]
    assert np.array_equal(_stream([stage], x, sr, 4096), _stream(reference, x, sr, 4096))
    assert not stage.take_input_gain(np.float32(2.0))  # one gain only, and not once the stream has started

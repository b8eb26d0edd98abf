"""The fused fader, pan and width pass against the three plugins run one by one."""
from __future__ import annotations

import numpy as np
import pytest

from automix.engines.pedalboard_engine import StreamingChain, build_stages, render_postfader
from automix.kernels.postfader import PostFader
from automix.settings import PluginSettings

SR = 44100


def _chain(gain_db: float, pan: float, width: float) -> list[PluginSettings]:
    return [PluginSettings("gain", {"gain_db": gain_db}), PluginSettings("pan", {"pan": pan}),
            PluginSettings("stereo_width", {"width": width})]


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("gain_db, pan, width", [(-8.33, -0.4, 1.499), (0.0, 0.0, 1.0), (13.7, -1.0, 4.0),
                                                 (-3.21, 0.37, 0.0), (4.1, 1.0, 0.8), (-60.0, 0.05, 1.3)])
def test_the_fused_pass_is_the_plugins_bit_for_bit(channels, gain_db, pan, width):
    rng = np.random.default_rng(channels)
    x = (rng.standard_normal((channels, 5000)) * 0.3).astype(np.float32)
    x[:, :10] = 0.0  # silence, and -0.0
    x[:, 10] = -0.0
    chain = _chain(gain_db, pan, width)
    want = StreamingChain(build_stages(SR, chain), SR, 8192).process(x)
    want = np.repeat(want, 2, axis=0) if want.shape[0] == 1 else want
    fused = PostFader.of(chain)
    assert np.array_equal(fused(x), want)
    bus = rng.standard_normal((2, 5000)).astype(np.float32)
    before = bus.copy()
    assert fused(x, bus, add=True) is bus
    assert np.array_equal(bus, before + want)  # the same float32 sum as adding the stages' output


def test_other_chains_run_their_plugins():
    assert PostFader.of(_chain(0.0, 0.0, 1.0)[:2]) is None
    assert PostFader.of(list(reversed(_chain(0.0, 0.0, 1.0)))) is None
    eq_after = _chain(1.0, 0.0, 1.0) + [PluginSettings("gain", {"gain_db": -1.0})]
    assert PostFader.of(eq_after) is None
    pre = (np.random.default_rng(3).standard_normal((2, 20000)) * 0.2).astype(np.float32)
    # a chain the fused pass does not stand for still renders (through its plugins), block split or not
    got = render_postfader(eq_after, SR, pre, block_frames=4096)
    want = StreamingChain(build_stages(SR, eq_after), SR, 20000).process(pre)
    assert np.array_equal(got, want)
    fused = render_postfader(_chain(1.0, 0.2, 1.2), SR, pre, block_frames=4096)
    assert np.array_equal(fused, StreamingChain(build_stages(SR, _chain(1.0, 0.2, 1.2)), SR, 20000).process(pre))

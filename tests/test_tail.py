"""The master's fused width, gain and clipper stage against the three stages it stands for, bit for bit."""
from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from automix.dsp import LIBM_EXACT
from automix.engines.pedalboard_engine import StreamingChain, build_stages
from automix.kernels.tail import Tail
from automix.plugins import get_plugin
from automix.plugins.saturation import pedalboard_graph
from automix.settings import MASTER_CHAIN, PluginSettings
from tests.conftest import music_like

SR = 44100
pytestmark = pytest.mark.skipif(not LIBM_EXACT, reason="the fused stage runs only where the clipper's own does")


def _chain(width: float, gain_db: float, drive_db: float, mix: float, trim_db: float) -> list[PluginSettings]:
    return [PluginSettings("stereo_width", {"width": width}), PluginSettings("gain", {"gain_db": gain_db}),
            PluginSettings("saturation", {"drive_db": drive_db, "mix": mix, "trim_db": trim_db})]


def _three_stages(chain: list[PluginSettings]) -> list:
    """The width node, pedalboard's Gain and pedalboard's saturation graph, run one after the other."""
    sat = chain[2].params
    return (get_plugin("stereo_width").build(SR, **chain[0].params)
            + [pedalboard.Pedalboard([pedalboard.Gain(gain_db=chain[1].params["gain_db"])]),
               pedalboard.Pedalboard(pedalboard_graph(**sat))])


def _stream(stages, x: np.ndarray, block: int) -> np.ndarray:
    chain = StreamingChain(stages, SR, block)
    return np.concatenate([chain.process(x[:, s:s + block]) for s in range(0, x.shape[1], block)], axis=1)


@pytest.mark.parametrize("setting", [(1.3, 7.25, 6.0, 0.3, -0.5), (0.0, -3.0, 12.0, 1.0, 0.0),
                                     (2.5, 11.9, 0.5, 0.001, 1.5), (1.0, 0.0, 6.0, 0.0, -2.0)],
                         ids=["wide-clipped", "mono-fold-full-wet", "very-wide-barely-wet", "clipper-bypassed"])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("port", [True, False], ids=["vectorised-tanhf", "library-tanhf"])
def test_the_fused_tail_is_the_three_stages(setting, channels, port, monkeypatch):
    from automix.kernels import tail

    if port and not tail.port_matches_libm():
        pytest.skip("this C library's tanhf is not fdlibm's")
    monkeypatch.setattr(tail, "port_matches_libm", lambda: port)
    chain = _chain(*setting)
    x = music_like(2 * SR + 77, SR, channels, seed=8) * np.float32(1.2)
    x[:, 4000:9000] = 0.0
    built = build_stages(SR, chain)
    assert len(built) == 1 and isinstance(built[0], Tail)
    assert built[0].port is port
    for block in (65536, 1000):
        got, want = _stream(build_stages(SR, chain), x, block), _stream(_three_stages(chain), x, block)
        assert got.shape == want.shape == (2, x.shape[1]) and got.dtype == np.float32
        assert np.array_equal(got, want)


def test_the_stage_folds_widens_and_clips():
    """Closed forms of what the bits stand for: width 0 is the mid in both channels, a fully wet unit drive
    is tanh itself."""
    x = np.stack([np.linspace(-3.0, 3.0, 601), np.linspace(2.0, -1.0, 601)]).astype(np.float32)
    mono = Tail(0.0, 0.0, 6.0, 0.0, 0.0).process(x)
    np.testing.assert_array_equal(mono[0], mono[1])
    np.testing.assert_allclose(mono[0], (x[0] + x[1]) / 2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(Tail(1.0, 0.0, 0.0, 1.0, 0.0).process(x), np.tanh(x.astype(np.float64)), rtol=0,
                               atol=3e-7)


def test_the_master_chain_runs_the_tail_fused_and_a_strip_does_not():
    defaults = {name: get_plugin(name).defaults() for name in MASTER_CHAIN}
    master = build_stages(SR, [PluginSettings(name, dict(defaults[name])) for name in MASTER_CHAIN])
    assert sum(isinstance(s, Tail) for s in master) == 1
    strip = build_stages(SR, [PluginSettings("gain", {"gain_db": 1.0}), PluginSettings("stereo_width", {"width": 1.2})])
    assert not any(isinstance(s, Tail) for s in strip)

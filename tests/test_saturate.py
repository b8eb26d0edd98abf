"""The saturation's one-pass production stage against the pedalboard graph it stands for, bit for bit."""
from __future__ import annotations

import numpy as np
import pedalboard
import pytest

from automix.dsp import LIBM_EXACT
from automix.engines.pedalboard_engine import StreamingChain, build_stages
from automix.kernels.saturate import Saturate
from automix.plugins.saturation import pedalboard_graph
from automix.settings import PluginSettings
from tests.conftest import music_like

SR = 44100
pytestmark = pytest.mark.skipif(not LIBM_EXACT, reason="the one-pass stage runs only where tanhf is the C library's")


def _stream(stages, x: np.ndarray, block: int) -> np.ndarray:
    chain = StreamingChain(stages, SR, block)
    out = [chain.process(x[:, s:s + block]) for s in range(0, x.shape[1], block)]
    return np.concatenate(out + [chain.flush()], axis=1)


@pytest.mark.parametrize("drive_db, mix, trim_db", [(6.0, 0.435, -3.1), (0.0, 1.0, 0.0), (13.7, 0.2, 2.5),
                                                     (36.0, 0.99, -24.0), (6.0, 1.0, 12.0), (0.5, 0.001, 0.0)])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("port", [True, False], ids=["vectorised-tanhf", "library-tanhf"])
def test_the_one_pass_stage_is_the_pedalboard_graph(drive_db, mix, trim_db, channels, port, monkeypatch):
    """With the vectorised tanhf (where it is the library's) and with the library's own, as elsewhere."""
    from automix.kernels import saturate

    if port and not saturate.port_matches_libm():
        pytest.skip("this C library's tanhf is not fdlibm's")
    monkeypatch.setattr(saturate, "port_matches_libm", lambda: port)
    x = music_like(3 * SR + 123, SR, channels, seed=4) * np.float32(1.5)  # driven past full scale too
    x[:, :5000] *= np.float32(1e-33)  # values that denormals-as-zero takes to zero, in both
    x[:, 9000:12000] = 0.0
    built = build_stages(SR, [PluginSettings("saturation", {"drive_db": drive_db, "mix": mix, "trim_db": trim_db})])
    assert isinstance(built[0], Saturate)
    assert built[0]._kernel is (saturate._run if port else saturate._run_libm)
    reference = [pedalboard.Pedalboard(pedalboard_graph(drive_db=drive_db, mix=mix, trim_db=trim_db))]
    for block in (65536, 4096):
        got, want = _stream(built, x, block), _stream(reference, x, block)
        assert got.dtype == want.dtype == np.float32
        assert np.array_equal(got, want)


def test_the_stage_saturates():
    """A closed-form check of what the bits stand for: a fully wet unit drive is tanh itself."""
    x = np.linspace(-3.0, 3.0, 601, dtype=np.float32)[None]
    y = Saturate(-200.0, 0.0, 0.0, 0.0).process(x)
    np.testing.assert_allclose(y, np.tanh(x.astype(np.float64)), rtol=0, atol=2e-7)

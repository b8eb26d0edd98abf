"""Pan: constant-power balance, unity at centre. Twin: a numpy node (pedalboard has none).

Law (``pan`` in [-1, 1], -1 = hard left)::

    theta = (pan + 1) * pi / 4
    L_out = L * sqrt(2) * cos(theta)
    R_out = R * sqrt(2) * sin(theta)

Stems reach the chain as stereo (mono files become dual mono), so this is a
balance control. At centre both gains are 1 (no level change); hard left
gives +3 dB on L and silence on R, keeping L^2 + R^2 constant for dual-mono
material. Differentiable in ``pan``. Gains are computed in float64 and rounded
once, so both engines multiply by the same float32 factors (bit-exact).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from automix.dsp import as_batch_param
from automix.plugins.spec import NumpyNode, ParamSpec, Plugin, specs, _is_tensor

if TYPE_CHECKING:
    import torch

PARAMS = specs(ParamSpec("pan", -1.0, 1.0, 0.0, "linear", "-1 hard left, 0 centre, +1 hard right"))


def _gains(pan):
    theta = (pan + 1.0) * (math.pi / 4.0)
    if _is_tensor(theta):
        return math.sqrt(2.0) * theta.cos(), math.sqrt(2.0) * theta.sin()
    return math.sqrt(2.0) * math.cos(theta), math.sqrt(2.0) * math.sin(theta)


def pan(x: torch.Tensor, sample_rate: int, *, pan) -> torch.Tensor:
    """Shape: x ``(batch, 2, samples)`` -> same (mono input is duplicated first)."""
    import torch

    if x.shape[1] == 1:
        x = x.expand(-1, 2, -1)
    p = as_batch_param(pan, x.shape[0], dtype=torch.float64, device=x.device)
    gl, gr = _gains(p)
    g = torch.stack([gl, gr], dim=1).to(x.dtype)  # (batch, 2)
    return x * g[:, :, None]


def build(sample_rate: int, *, pan: float) -> list:
    gl, gr = _gains(float(pan))
    g = np.array([[gl], [gr]], dtype=np.float32)

    def node(block: np.ndarray) -> np.ndarray:
        if block.shape[0] == 1:
            block = np.repeat(block, 2, axis=0)
        return block * g

    return [NumpyNode("pan", node)]


PLUGIN = Plugin("pan", PARAMS, pan, build, doc="Constant-power balance, unity at centre (numpy node).")

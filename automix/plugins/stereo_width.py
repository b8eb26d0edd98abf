"""Stereo width: mid/side scaling. Twin: a numpy node (pedalboard has none).

``M = (L + R) / 2``, ``S = (L - R) / 2 * width``, ``L' = M + S``, ``R' = M - S``.
``width = 0`` folds to mono, 1 is unchanged, above 1 widens. The file's
M/S ratio RMS(S)/RMS(M) scales exactly by ``width``. Differentiable in
``width``; identical float32 arithmetic in both engines (bit-exact).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from automix.dsp import as_batch_param
from automix.plugins.spec import NumpyNode, ParamSpec, Plugin, specs

if TYPE_CHECKING:
    import torch

PARAMS = specs(ParamSpec("width", 0.0, 4.0, 1.0, "linear", "side-signal scale: 0 mono, 1 unchanged, >1 wider"))


def stereo_width(x: torch.Tensor, sample_rate: int, *, width) -> torch.Tensor:
    """Shape: x ``(batch, 2, samples)`` -> same (mono input is duplicated first)."""
    import torch

    if x.shape[1] == 1:
        x = x.expand(-1, 2, -1)
    w = as_batch_param(width, x.shape[0], dtype=torch.float64, device=x.device).to(x.dtype)[:, None]
    mid = (x[:, 0] + x[:, 1]) * 0.5
    side = (x[:, 0] - x[:, 1]) * 0.5 * w
    return torch.stack([mid + side, mid - side], dim=1)


def build(sample_rate: int, *, width: float) -> list:
    w = np.float32(width)

    def node(block: np.ndarray) -> np.ndarray:
        if block.shape[0] == 1:
            block = np.repeat(block, 2, axis=0)
        mid = (block[0] + block[1]) * np.float32(0.5)
        side = (block[0] - block[1]) * np.float32(0.5) * w
        return np.stack([mid + side, mid - side])

    return [NumpyNode("stereo_width", node)]


PLUGIN = Plugin("stereo_width", PARAMS, stereo_width, build, doc="Mid/side width (numpy node).", stereo_only=True)

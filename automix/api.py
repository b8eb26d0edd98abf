"""The original design's Python API, kept: ``AutoMixChain``, ``ChannelStrip``, ``MasteringChain``.

``AutoMixChain`` runs exactly the pipeline of ``automix mix`` (one
implementation): stems given as arrays are written to a temporary session,
mixed by :func:`automix.mixer.mix_session`, and the mastered file is read back.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import soundfile as sf
import torch
from torch import nn

from automix.engines.torch_engine import apply_chain
from automix.errors import ParameterError
from automix.layout import MASTER_SLOTS, STEM_SLOTS, to_torch_chain
from automix.settings import MASTER_CHAIN, STEM_CHAIN
from automix.styles import StyleTargets, get_style, load_style_targets


class ChannelStrip(nn.Module):
    """The per-stem strip (``STEM_CHAIN``: eq, compressor, saturation, gain, pan, width) as a module.

    ``forward(x, units)`` with x ``(batch, channels, samples)`` and ``units``
    ``(batch, len(STEM_SLOTS))`` in (0, 1) (the predictor's output) returns
    ``(batch, 2, samples)``; differentiable in both.
    """

    chain, layout = STEM_CHAIN, STEM_SLOTS

    def __init__(self, sample_rate: int = 44100):
        super().__init__()
        self.sample_rate = sample_rate

    def forward(self, x: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
        return apply_chain(x, self.sample_rate, to_torch_chain(units, self.layout, self.chain))


class MasteringChain(ChannelStrip):
    """The master chain (``MASTER_CHAIN``: compressor, eq, width, gain, limiter) as a module.

    Shape: x ``(batch, 2, samples)``, units ``(batch, len(MASTER_SLOTS))`` -> ``(batch, 2, samples)``.
    """

    chain, layout = MASTER_CHAIN, MASTER_SLOTS


class AutoMixChain:
    """Mix and master stems held in memory.

    Example::

        auto_mix = AutoMixChain(n_stems=4, style_targets=load_style_targets())
        mixed_audio, analysis = auto_mix(stems, style="rock_punk")
        analysis["lufs"], analysis["lufs_error"]

    Args:
        n_stems: expected stem count (optional; any count from 1 to 64 works).
        style_targets: styles by name (default: the built-in presets).
        sample_rate: rate of the arrays passed in.
    """

    def __init__(self, n_stems: int | None = None, style_targets: Mapping[str, StyleTargets] | None = None,
                 sample_rate: int = 44100, engine: str = "pedalboard"):
        self.n_stems = n_stems
        self.style_targets = dict(style_targets or load_style_targets())
        self.sample_rate = sample_rate
        self.engine = engine

    def __call__(self, stems, style: str = "rock_punk", *, names: Sequence[str] | None = None,
                 optimize_steps: int = 0) -> tuple[torch.Tensor, dict]:
        """Mix ``stems``: a tensor ``(n_stems, channels, samples)`` or a list of ``(channels, samples)`` arrays.

        Returns ``(mixed (2, samples) float32 tensor, analysis)``; ``analysis`` has ``lufs``,
        ``lufs_error``, ``true_peak``, ``true_peak_error``, ``spectral_centroid``,
        ``spectral_centroid_error`` (relative), ``ms_ratio``, ``ms_ratio_error``, ``status`` and
        the full ``report``.
        """
        from automix.mixer import mix_session

        arrays = [s.detach().cpu().numpy() if isinstance(s, torch.Tensor) else np.asarray(s) for s in stems]
        if self.n_stems is not None and len(arrays) != self.n_stems:
            raise ParameterError(f"AutoMixChain was made for {self.n_stems} stems but got {len(arrays)}")
        target = get_style(style, self.style_targets)
        names = list(names) if names else [f"stem{i + 1:02d}" for i in range(len(arrays))]
        with tempfile.TemporaryDirectory(prefix="automix-") as tmp:
            paths = []
            for name, a in zip(names, arrays):
                a = a[None] if a.ndim == 1 else a
                p = Path(tmp) / f"{Path(name).stem}.wav"
                sf.write(str(p), np.ascontiguousarray(a.T, dtype=np.float32), self.sample_rate, subtype="FLOAT")
                paths.append(str(p))
            out = Path(tmp) / "mix.wav"
            report = mix_session(paths, style=target, output=out, engine=self.engine, optimize_steps=optimize_steps)
            mixed, _ = sf.read(str(out), dtype="float32", always_2d=True)
        t = report["targets"]
        analysis = {
            "status": report["status"],
            "lufs": t["integrated_lufs"]["final"], "lufs_error": t["integrated_lufs"]["error"],
            "true_peak": t["true_peak_dbtp"]["final"], "true_peak_error": t["true_peak_dbtp"]["error"],
            "spectral_centroid": t["spectral_centroid_hz"]["final"],
            "spectral_centroid_error": t["spectral_centroid_hz"]["error_rel"],
            "ms_ratio": t["ms_ratio"]["final"], "ms_ratio_error": t["ms_ratio"]["error"],
            "band_balance": t["band_balance"]["final"],
            "report": report,
        }
        return torch.from_numpy(np.ascontiguousarray(mixed.T)), analysis

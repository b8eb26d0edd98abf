"""The original design's Python API, kept: ``AutoMixChain``, ``ChannelStrip``, ``MasteringChain``.

``AutoMixChain`` runs exactly the pipeline of ``automix mix`` (one
implementation): stems given as arrays are written to a temporary session,
mixed by :func:`automix.mixer.mix_session`, and the mastered file is read back.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Mapping, Sequence, Union

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


StyleSource = Union[Mapping[str, StyleTargets], StyleTargets, str, os.PathLike, None]


def _styles(style_targets: StyleSource) -> dict[str, StyleTargets]:
    """Styles by name from the presets (None), a targets file path, one style, or a mapping of styles."""
    if style_targets is None:
        return load_style_targets()
    if isinstance(style_targets, StyleTargets):  # one style is itself a mapping (of its targets): check first
        return {style_targets.name: style_targets}
    if isinstance(style_targets, (str, os.PathLike)):
        return load_style_targets(style_targets)
    return dict(style_targets)


class AutoMixChain:
    """Mix and master stems held in memory.

    Example (the original specification's, as written)::

        targets = load_style_targets()
        print(targets["rock_punk"]["lufs"])
        auto_mix = AutoMixChain(n_stems=4, style_targets=targets)
        mixed_audio, analysis = auto_mix(stems, style="rock_punk")
        print(analysis["lufs"], analysis["lufs_error"])

    Args:
        n_stems: expected stem count (optional; any count from 1 to 64 works).
        style_targets: styles by name (default: the built-in presets), a
            targets YAML path (loaded with :func:`load_style_targets`), or one
            :class:`StyleTargets`.
        sample_rate: rate of the arrays passed in.
    """

    def __init__(self, n_stems: int | None = None, style_targets: StyleSource = None,
                 sample_rate: int = 44100, engine: str = "pedalboard"):
        self.n_stems = n_stems
        self.style_targets = _styles(style_targets)
        self.sample_rate = sample_rate
        self.engine = engine

    def __call__(self, stems, style: str | StyleTargets = "rock_punk", *, names: Sequence[str] | None = None,
                 optimize_steps: int = 0) -> tuple[torch.Tensor, dict]:
        """Mix ``stems``: a tensor ``(n_stems, channels, samples)`` or a list of ``(channels, samples)`` arrays.

        Stems may be mono or stereo, mixed in one list (a 1-D array is one mono stem). ``names``
        (file-name-like, e.g. ``kick``, ``lead vocal``) let the roles be read from them; otherwise
        they are inferred from the audio.

        Returns ``(mixed (2, samples) float32 tensor, analysis)``; ``analysis`` has ``lufs``,
        ``lufs_error`` (``lufs`` minus the target), ``true_peak``, ``true_peak_error``,
        ``spectral_centroid``, ``spectral_centroid_error`` (relative), ``ms_ratio``,
        ``ms_ratio_error``, ``band_balance`` (measured low/mid/high magnitude shares),
        ``status``, ``style`` (its name), ``targets`` (what the mix was steered to, in the
        style's mapping form: ``lufs``, ``true_peak_ceiling_dbtp``, ``spectral_centroid_hz``,
        ``stereo_ms_ratio``, ``frequency_balance`` as ``low_energy``/``mid_energy``/``high_energy``)
        and the full ``report``.
        """
        from automix.mixer import mix_session

        arrays = [s.detach().cpu().numpy() if isinstance(s, torch.Tensor) else np.asarray(s) for s in stems]
        if self.n_stems is not None and len(arrays) != self.n_stems:
            raise ParameterError(f"AutoMixChain was made for {self.n_stems} stems but got {len(arrays)}")
        for i, a in enumerate(arrays):
            if a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[0] not in (1, 2)):
                raise ParameterError(f"stem {i}: shape {tuple(a.shape)} is not (samples,), (1, samples) or "
                                     "(2, samples); pass (channels, samples) arrays")
        target = style if isinstance(style, StyleTargets) else get_style(style, self.style_targets)
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
            "style": target.name,
            "targets": {k: dict(target[k]) if k == "frequency_balance" else target[k]
                        for k in ("lufs", "true_peak_ceiling_dbtp", "spectral_centroid_hz", "stereo_ms_ratio",
                                  "frequency_balance")},
            "report": report,
        }
        return torch.from_numpy(np.ascontiguousarray(mixed.T)), analysis

"""Differentiable renderer: MixSettings (or parameter tensors) -> stereo mix.

Stems whose chains list the same plugins in the same order are rendered as
one batch, with each parameter stacked into a ``(batch,)`` tensor, so 8 stems
cost roughly one call per plugin. Gradients reach the input audio and every
continuous parameter passed as a tensor.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch

from automix.audio_io import output_frames, probe, read_stem
from automix.settings import MixSettings, PluginSettings
from automix.plugins import get_plugin

#: a chain as the torch engine takes it: (plugin name, {param: float or (batch,) tensor})
TorchChain = Sequence[tuple[str, Mapping[str, object]]]


def apply_chain(x: torch.Tensor, sample_rate: int, chain: TorchChain) -> torch.Tensor:
    """Run ``x`` through the plugins of ``chain`` in order.

    Shape: x ``(batch, channels, samples)`` -> ``(batch, 2 or channels, samples)``.
    """
    for name, params in chain:
        x = get_plugin(name).torch_fn(x, sample_rate, **params)
    return x


def stem_chain(stem_gain_db, chain: Sequence[PluginSettings]) -> list[tuple[str, dict]]:
    """A stem's full torch chain: its input normalisation gain, then its plugins."""
    return [("gain", {"gain_db": stem_gain_db})] + [(p.plugin, dict(p.params)) for p in chain]


def _batched(chains: list[list[tuple[str, dict]]], dtype) -> list[tuple[str, dict]]:
    """Stack identical-layout chains into one chain of ``(batch,)`` parameter tensors."""
    out = []
    for stage in zip(*chains):
        name = stage[0][0]
        keys = stage[0][1].keys()
        out.append((name, {k: _stack([params[k] for _, params in stage], dtype) for k in keys}))
    return out


def _stack(values, dtype) -> torch.Tensor:
    if any(isinstance(v, torch.Tensor) for v in values):
        return torch.stack([torch.as_tensor(v, dtype=dtype).reshape(()) for v in values])
    return torch.tensor(values, dtype=dtype)


def render_stems(stems: torch.Tensor, sample_rate: int, chains: list[list[tuple[str, dict]]]) -> torch.Tensor:
    """Process each stem through its chain and return the summed stereo bus.

    Shape: stems ``(n_stems, 2, samples)`` -> ``(2, samples)``.
    """
    if stems.shape[0] != len(chains):
        raise ValueError("one chain per stem")
    groups: dict[tuple, list[int]] = {}
    for i, chain in enumerate(chains):
        groups.setdefault(tuple((n, tuple(p)) for n, p in chain), []).append(i)
    outputs: list[torch.Tensor | None] = [None] * len(chains)
    for idx in groups.values():
        y = apply_chain(stems[idx], sample_rate, _batched([chains[i] for i in idx], torch.float64))
        if y.shape[1] == 1:
            y = y.expand(-1, 2, -1)
        for k, i in enumerate(idx):
            outputs[i] = y[k]
    # sum one stem after another in stem order, as the pedalboard engine does: float32 addition
    # is order-sensitive, and a hot master (clipper, limiter) amplifies that round-off
    bus = outputs[0]
    for y in outputs[1:]:
        bus = bus + y
    return bus


def render_mix(stems: torch.Tensor, settings: MixSettings) -> torch.Tensor:
    """Render pre-loaded stems with ``settings``: strips, sum, master.

    Shape: stems ``(n_stems, 2, samples)`` -> ``(2, samples)``.
    """
    chains = [stem_chain(s.input_gain_db, s.chain) for s in settings.stems]
    bus = render_stems(stems, settings.sample_rate, chains)
    trim = [("gain", {"gain_db": settings.master_input_gain_db})] if settings.master_input_gain_db else []
    master = trim + [(p.plugin, dict(p.params)) for p in settings.master]
    return apply_chain(bus[None], settings.sample_rate, master)[0]


def load_stems(settings: MixSettings, dtype=torch.float32) -> torch.Tensor:
    """Read every stem of ``settings`` at the session rate, zero-padded to the longest.

    Shape: returns ``(n_stems, 2, samples)``.
    """
    infos = [probe(s.path) for s in settings.stems]
    n = max(output_frames(i, settings.sample_rate) for i in infos)
    arrays = [read_stem(i, settings.sample_rate, n) for i in infos]
    return torch.from_numpy(np.stack(arrays)).to(dtype)


def render(settings: MixSettings) -> np.ndarray:
    """Read the stems and render the mix; returns ``(2, samples)`` float32."""
    with torch.no_grad():
        return render_mix(load_stems(settings), settings).numpy().astype(np.float32)


def trim_bus(bus: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Differentiable twin of the master's ``input_gain_db``: each bus to ``BUS_REFERENCE_LUFS``.

    Silent buses pass unchanged. Shape: ``(batch, 2, samples)`` -> same.
    """
    from automix.meters.differentiable import loudness_torch
    from automix.constants import BUS_REFERENCE_LUFS, SILENCE_LUFS

    lufs = loudness_torch(bus, sample_rate).to(torch.float64)
    ok = torch.isfinite(lufs) & (lufs >= SILENCE_LUFS)
    gain_db = torch.where(ok, (BUS_REFERENCE_LUFS - torch.where(ok, lufs, torch.zeros_like(lufs))).clamp(-60, 60),
                          torch.zeros_like(lufs))
    return bus * torch.pow(10.0, gain_db / 20.0).to(bus.dtype)[:, None, None]

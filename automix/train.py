"""``automix train``: teach the predictor to mix, self-supervised through the differentiable engine.

No reference mixes are needed: the predictor's settings are rendered by the
torch engine (every stem strip, the sum, the master's compressor, EQ, width and
gain) and the loss measures the result against the style's targets with the
differentiable meters::

    loss = target + regulariser
    target = ph(((log(c / c*) / log(1 + tol_c))^2)            spectral centroid
           + ph(((ms - ms*) / tol_ms)^2)                       mid/side ratio
           + W_BALANCE * ph(sum(((b - b*) / tol_b)^2))          band balance (3 bands; TONE_W_BALANCE in stage 2)
           + W_LOUDNESS * ph(((L - L*) / 1 LU)^2)               loudness before the limiter
           + W_STEM_LEVELS * ph(mean(((l_i - p_i - mean) / 1.5 dB)^2))   stems as heard vs the role balance
           + W_LR_BALANCE * ph((10 log10(E_left / E_right) / 1 dB)^2)   a mix balanced left/right
    regulariser = mean over stems of sum_j w_j (u_j - prior_j)^2 + sum_k w_k (u_k - prior_k)^2 (master)

``ph(e) = 2 (sqrt(1 + e) - 1)`` (pseudo-Huber) keeps far-off sessions from
dominating. ``u`` are the predictor's unit-interval outputs and ``prior`` the
style + role priors (:mod:`automix.priors`): the regulariser is what keeps
settings musical. Its weights (:data:`STEM_PULL`, :data:`MASTER_PULL`) make
level and pan moves expensive (the role balance of the style is the balance prior),
compression and saturation stay near the style's own, and tonal moves are
cheaper on the stems than on the master, so the tonal work is spread over the
stems rather than done by one master EQ.

Targets per session are the presets and, with probability
``1 - preset_share``, a random variation of one (loudness, centroid, M/S and
balance drawn around it), so custom targets work without retraining.

Data: sessions from :mod:`automix.sessiongen` (seeds in ``TRAIN_SEEDS`` only;
evaluation uses the held-out seeds) or a folder of real sessions
(``--sessions DIR``). Features are computed on the whole session as
:func:`automix.mixer.mix_session` does; the loss is measured on an excerpt.

Two stages. The first trains everything but the tone head for ``steps``
steps. The second (``tone_steps``) trains only the tone head
(:mod:`automix.predictor`), which sets the master EQ from an estimate of the
bus's band balance, with the rest frozen. It starts from the master EQ gains
solved on that estimate (``ToneHead.trust_solve``) and learns how far to
trust them and what the estimate leaves out. Freezing the strips is what makes
it cheap: no gradient flows into the stems' filters and compressors (the
backward pass of their IIR kernels is most of a first-stage step), so
the second stage affords its many steps on the one problem the first stage
leaves open, a master EQ that follows the session. During the first stage
the tone head is frozen at its zero output, so the first stage is exactly the
one-stage run it was before the tone head existed.

Reproducible: every step's batch, targets and excerpt are derived from
``(seed, step)`` alone, so a run resumed from a checkpoint ends with the same
weights as an uninterrupted one (CPU, same thread count).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from automix.errors import TrainingError
from automix.layout import MASTER_SLOTS, STEM_SLOTS, flatten, to_torch_chain
from automix.settings import MASTER_CHAIN, MASTER_TONE_STAGES, STEM_CHAIN

#: the master stages rendered in training; saturation and the limiter belong to the master loop
MASTER_TRAINED = MASTER_TONE_STAGES + ("gain",)
W_BALANCE = 0.25
#: the band-balance weight of the second stage, where only the master EQ moves, so no stem setting (nor the
#: M/S ratio) pays for it; held-out band balance of the predictor alone: 0.056 at 1.0, 0.055 at 3.0 (README)
TONE_W_BALANCE = 3.0
W_LOUDNESS = 0.05
#: left/right level balance of the mix, per dB^2: without it the cheapest way to more side signal is
#: panning everything (kick and bass included) to one side
W_LR_BALANCE = 1.0

#: each stem's level as heard through its strip against its role's place in the balance, per (1.5 dB)^2 of
#: mean squared error: the fader prior alone let saturation and compression move stems by several dB
W_STEM_LEVELS = 1.0
LEVEL_TOLERANCE_DB = 1.5
_GAIN_SLOT = next(i for i, s in enumerate(STEM_SLOTS) if s.key == "gain.gain_db")

#: regulariser weight per unit-interval parameter, by (plugin, parameter) or plugin
STEM_PULL = {"gain.gain_db": 40.0, "compressor.makeup_db": 10.0, "compressor": 2.0, "saturation": 2.0,
             "pan.pan": 40.0, "stereo_width.width": 0.5, "eq.highpass_hz": 2.0, "eq": 0.5}
#: the master width's prior is solved from the strips (``bus_estimate.solve_master_width``), not pulled toward
MASTER_PULL = {"gain.gain_db": 0.0, "limiter": 0.0, "saturation": 0.0, "compressor": 2.0,
               "stereo_width.width": 0.0, "eq.highpass_hz": 4.0, "eq": 1.5}


@dataclass
class TrainConfig:
    """Everything that determines a training run (recorded in the weights manifest).

    Attributes:
        steps: optimiser steps.
        seed: seeds the data pool, batches, targets and the initialisation.
        batch_sessions: sessions per step.
        pool_sessions: sessions generated up front (features on the whole session).
        session_s: length of a generated session, s.
        excerpt_s: length the loss is measured on, s.
        lr: Adam learning rate at the start (cosine decay to a tenth).
        preset_share: probability of a preset target (else a random variation).
        tone_steps: second-stage steps (the tone head alone, everything else frozen).
        checkpoint_every: steps between checkpoints.
        sessions_dir: train on the session folders in this directory instead of generated ones.
        threads: torch intra-op threads.
    """

    steps: int = 1600
    seed: int = 0
    batch_sessions: int = 4
    pool_sessions: int = 160
    session_s: float = 6.0
    excerpt_s: float = 2.0
    lr: float = 1e-3
    preset_share: float = 0.5
    tone_steps: int = 600
    checkpoint_every: int = 50
    sessions_dir: str | None = None
    threads: int = 2

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------- data

@dataclass
class PoolSession:
    """One training session, analysed once.

    Shape: ``audio`` ``(n_stems, 2, excerpt)`` float32 as recorded; ``features`` ``(n_stems, F)``;
    ``input_gain_db`` ``(n_stems,)``.
    """

    name: str
    sample_rate: int
    paths: list[str]
    roles: list[str]
    audio: torch.Tensor
    features: torch.Tensor
    input_gain_db: torch.Tensor


def _analyse(name: str, sample_rate: int, paths: Sequence[str], arrays: Sequence[np.ndarray],
             excerpt_s: float) -> PoolSession | None:
    """Features + roles on whole stems (as the mixer computes them), keep the middle excerpt."""
    from automix.features import StemFeatureExtractor
    from automix.render import normalisation_gain_db
    from automix.roles import infer_role

    extractor = StemFeatureExtractor(sample_rate)
    feats, keep_paths, keep = [], [], []
    for path, x in zip(paths, arrays):
        f = extractor.from_array(x, path)
        if f.silent:
            continue
        feats.append(f)
        keep_paths.append(path)
        keep.append(np.repeat(x, 2, axis=0) if x.shape[0] == 1 else x)
    if not feats:
        return None
    n = min(a.shape[1] for a in keep)
    m = min(n, int(excerpt_s * sample_rate))
    start = (n - m) // 2
    audio = np.stack([a[:, start:start + m] for a in keep]).astype(np.float32)
    roles = [infer_role(p, f.values)[0] for p, f in zip(keep_paths, feats)]
    return PoolSession(name, sample_rate, keep_paths, roles, torch.from_numpy(audio),
                       torch.from_numpy(np.stack([f.vector() for f in feats])),
                       torch.tensor([normalisation_gain_db(f.loudness_lufs) for f in feats], dtype=torch.float32))


def training_seeds(config: TrainConfig) -> list[int]:
    """The generator seeds of the pool: inside ``sessiongen.TRAIN_SEEDS``, never held out."""
    from automix.sessiongen import TRAIN_SEEDS

    rng = np.random.default_rng([config.seed, 1])
    return [int(s) for s in rng.choice(len(TRAIN_SEEDS), size=config.pool_sessions, replace=False)]


def generated_pool(config: TrainConfig, progress: Callable[[str, int, int], None] | None = None) -> list[PoolSession]:
    from automix import sessiongen

    pool = []
    seeds = training_seeds(config)
    for k, seed in enumerate(seeds):
        s = sessiongen.generate(seed, duration_s=config.session_s)
        item = _analyse(f"seed-{seed}", s.sample_rate, [f"{st.name}.wav" for st in s.stems],
                        [st.audio for st in s.stems], config.excerpt_s)
        if item is not None:
            pool.append(item)
        if progress:
            progress("generate", k + 1, len(seeds))
    return pool


def folder_pool(config: TrainConfig, progress=None) -> list[PoolSession]:
    """Sessions from ``config.sessions_dir``: each sub-folder with audio files (or the folder itself)."""
    from automix.audio_io import AUDIO_EXTENSIONS, output_frames, probe, read_stem
    from automix.mixer import session_rate

    root = Path(config.sessions_dir)
    if not root.is_dir():
        raise TrainingError(f"{root}: not a folder; pass --sessions a folder of session folders")

    def audio_files(d: Path):
        return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                      and not p.name.startswith("."))

    folders = [d for d in sorted(root.iterdir()) if d.is_dir() and audio_files(d)] or \
        ([root] if audio_files(root) else [])
    if not folders:
        raise TrainingError(f"{root}: no session folders with audio files; put each session's stems in a sub-folder")
    pool = []
    for k, d in enumerate(folders):
        infos = [probe(str(p)) for p in audio_files(d)]
        sr = session_rate([i.sample_rate for i in infos])
        n = max(output_frames(i, sr) for i in infos)
        item = _analyse(d.name, sr, [i.path for i in infos], [read_stem(i, sr, n) for i in infos], config.excerpt_s)
        if item is not None:
            pool.append(item)
        if progress:
            progress("read", k + 1, len(folders))
    return pool


# ----------------------------------------------------------------------------- targets

def balance_tilt(presets: Sequence) -> np.ndarray:
    """How band shares move with the centroid target, read off the presets.

    Returns the least-squares slope of ``log(share)`` per octave of centroid for each band (low, mid,
    high), fitted over the presets (whose shares were themselves fitted to their centroids); zeros when
    the presets do not span a centroid range. Shape: ``(3,)``.
    """
    octaves = np.log2([p.spectral_centroid_hz for p in presets])
    if len(presets) < 2 or np.ptp(octaves) < 0.1:
        return np.zeros(3)
    shares = np.log([p.frequency_balance.as_tuple() for p in presets])
    return np.polyfit(octaves, shares, 1)[0]


def sample_style(rng: np.random.Generator, presets: Sequence, preset_share: float, tilt: np.ndarray):
    """A preset, or a random variation of one (loudness, centroid, M/S, band balance).

    The random balance is drawn around the preset's shares moved by ``tilt`` (see :func:`balance_tilt`)
    to the drawn centroid: a bright centroid with a dark balance asks for two mixes at once, and a
    network trained on such pairs learns to split the difference on consistent targets too.
    """
    base = presets[int(rng.integers(len(presets)))]
    if rng.random() < preset_share:
        return base
    octaves = rng.uniform(-0.5, 0.5) / math.log(2.0)  # centroid x e^U(-0.5, 0.5), in octaves
    centre = np.array(base.frequency_balance.as_tuple()) * np.exp2(tilt * octaves)
    balance = rng.dirichlet(centre / centre.sum() * 40.0)
    from automix.styles import FrequencyBalance

    return dataclasses.replace(
        base, name=f"{base.name}~random",
        lufs=float(rng.uniform(-16.0, -7.0)),
        spectral_centroid_hz=float(base.spectral_centroid_hz * 2.0 ** octaves),
        stereo_ms_ratio=float(np.clip(base.stereo_ms_ratio + rng.uniform(-0.4, 0.4), 0.05, 1.3)),
        frequency_balance=FrequencyBalance(*(float(v) for v in balance)))


def pull_weights(layout, table: dict) -> torch.Tensor:
    """Per-slot regulariser weights from a ``{plugin.param | plugin: weight}`` table (differentiable slots only)."""
    out = []
    for s in layout:
        w = table.get(s.key, table.get(s.plugin, 1.0))
        out.append(w if s.spec.differentiable else 0.0)
    return torch.tensor(out, dtype=torch.float32)


# ----------------------------------------------------------------------------- the loss

def _ph(e: torch.Tensor) -> torch.Tensor:
    return 2.0 * (torch.sqrt(1.0 + e) - 1.0)


@dataclass
class Batch:
    sample_rate: int
    audio: torch.Tensor          # (total_stems, 2, n)
    session_of: torch.Tensor     # (total_stems,) long
    input_gain_db: torch.Tensor  # (total_stems,)
    features: torch.Tensor       # (B, S, F) padded
    roles: torch.Tensor          # (B, S) long
    mask: torch.Tensor           # (B, S) bool
    style: torch.Tensor          # (B, T)
    stem_prior: torch.Tensor     # (B, S, P)
    master_prior: torch.Tensor   # (B, M)
    bounds: object               # automix.bounds.Bounds: the envelope's boxes
    targets: dict[str, torch.Tensor]     # lufs, centroid_hz, ms (B,); balance (B, 3): low, mid, high shares
    tolerances: dict[str, torch.Tensor]  # centroid_rel, ms_abs, balance_abs (B,)


def _per_style(styles: Sequence, value) -> torch.Tensor:
    """``value(style)`` of each session's style, float64. Shape: ``(B,)`` or ``(B, k)``."""
    return torch.tensor([value(st) for st in styles], dtype=torch.float64)


def make_batch(sessions: Sequence[PoolSession], styles: Sequence) -> Batch:
    from automix.bounds import is_mono, make_bounds
    from automix.priors import master_prior, stem_priors
    from automix.roles import ROLES

    b, s = len(sessions), max(len(x.paths) for x in sessions)
    f = sessions[0].features.shape[1]
    features = torch.zeros(b, s, f)
    roles = torch.zeros(b, s, dtype=torch.long)
    mask = torch.zeros(b, s, dtype=torch.bool)
    stem_prior = torch.full((b, s, len(STEM_SLOTS)), 0.5)
    mono = torch.zeros(b, s, dtype=torch.bool)
    for i, (x, style) in enumerate(zip(sessions, styles)):
        k = len(x.paths)
        features[i, :k] = x.features
        roles[i, :k] = torch.tensor([ROLES.index(r) for r in x.roles])
        mask[i, :k] = True
        mono[i, :k] = is_mono(x.features, style.envelope)
        stem_prior[i, :k] = torch.tensor([flatten(c, STEM_SLOTS)
                                          for c in stem_priors(style, x.paths, x.roles, mono[i, :k].tolist())])
    n = min(x.audio.shape[-1] for x in sessions)
    return Batch(
        sample_rate=sessions[0].sample_rate,
        audio=torch.cat([x.audio[..., :n] for x in sessions]),
        session_of=torch.cat([torch.full((len(x.paths),), i, dtype=torch.long) for i, x in enumerate(sessions)]),
        input_gain_db=torch.cat([x.input_gain_db for x in sessions]),
        features=features, roles=roles, mask=mask,
        style=torch.tensor(np.stack([st.vector(normalized=True) for st in styles]), dtype=torch.float32),
        stem_prior=stem_prior,
        master_prior=torch.tensor([flatten(master_prior(st), MASTER_SLOTS) for st in styles]),
        bounds=make_bounds([st.envelope for st in styles], mono, stem_prior, sessions[0].sample_rate),
        targets={"lufs": _per_style(styles, lambda st: st.lufs),
                 "centroid_hz": _per_style(styles, lambda st: st.spectral_centroid_hz),
                 "ms": _per_style(styles, lambda st: st.stereo_ms_ratio),
                 "balance": _per_style(styles, lambda st: st.frequency_balance.as_tuple())},
        tolerances={k: _per_style(styles, lambda st, k=k: getattr(st.tolerances, k))
                    for k in ("centroid_rel", "ms_abs", "balance_abs")},
    )


def render_strips(batch: Batch, stem_u: torch.Tensor) -> torch.Tensor:
    """Every stem of the batch through its predicted strip (normalisation first). Shape: ``(total_stems, 2, n)``."""
    from automix.engines.torch_engine import apply_chain

    flat = stem_u[batch.mask]
    chain = [("gain", {"gain_db": batch.input_gain_db})] + to_torch_chain(flat, STEM_SLOTS, STEM_CHAIN)
    return apply_chain(batch.audio, batch.sample_rate, chain)


def render_batch(batch: Batch, stem_u: torch.Tensor, master_u: torch.Tensor,
                 strips: torch.Tensor | None = None) -> torch.Tensor:
    """Render every session of the batch through its predicted strips, the bus trim and the trained master stages.

    ``strips`` (from :func:`render_strips`) saves rendering them again.
    Shape: stem_u ``(B, S, P)``, master_u ``(B, M)`` -> ``(B, 2, n)``.
    """
    from automix.engines.torch_engine import apply_chain, trim_bus

    sr = batch.sample_rate
    y = render_strips(batch, stem_u) if strips is None else strips
    bus = torch.zeros(stem_u.shape[0], 2, y.shape[-1], dtype=y.dtype).index_add(0, batch.session_of, y)
    master = [stage for stage in to_torch_chain(master_u, MASTER_SLOTS, MASTER_CHAIN) if stage[0] in MASTER_TRAINED]
    return apply_chain(trim_bus(bus, sr), sr, master)


def stem_level_errors(batch: Batch, strips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How far each stem, as heard through its strip, sits from its role's place in the style's balance (dB).

    The strip output's loudness minus the role prior's fader level, less that difference's mean over the
    session's stems (only relative levels count), for stems audible in the excerpt (above -60 LUFS).
    Compression, saturation and EQ all count: they move a stem's level as much as its fader.
    Shape: strips ``(total_stems, 2, n)`` -> errors and a 0/1 weight, ``(total_stems,)`` each (float64).
    """
    from automix.meters.differentiable import loudness_torch

    heard = loudness_torch(strips, batch.sample_rate).double()
    with torch.no_grad():
        live = (torch.isfinite(heard) & (heard > -60.0)).double()
    prior = STEM_SLOTS[_GAIN_SLOT].spec.from_unit(batch.stem_prior[batch.mask][:, _GAIN_SLOT].double())
    diff = torch.where(live > 0, heard, torch.zeros_like(heard)) - prior
    n = torch.zeros(batch.mask.shape[0], dtype=torch.float64).index_add(0, batch.session_of, live)
    mean = torch.zeros_like(n).index_add(0, batch.session_of, diff * live) / n.clamp_min(1.0)
    return (diff - mean[batch.session_of]) * live, live


def measure(out: torch.Tensor, sample_rate: int) -> dict[str, torch.Tensor]:
    from automix.meters.differentiable import centroid_and_balance_torch, loudness_torch, ms_ratio_torch

    centroid, balance = centroid_and_balance_torch(out, sample_rate)
    return {"lufs": loudness_torch(out, sample_rate), "centroid": centroid,
            "ms": ms_ratio_torch(out), "balance": balance,
            "lr_balance_db": 10 * torch.log10((out[:, 0] ** 2).sum(-1).clamp_min(1e-12)
                                               / (out[:, 1] ** 2).sum(-1).clamp_min(1e-12))}


def loss_terms(m: dict[str, torch.Tensor], batch: Batch) -> dict[str, torch.Tensor]:
    """Per-session target errors, each in squared tolerances. Shape: ``(B,)`` each."""
    t, tol = batch.targets, batch.tolerances
    lufs = torch.where(torch.isfinite(m["lufs"]), m["lufs"].double(), t["lufs"] - 30.0)
    return {
        "centroid": (torch.log(m["centroid"].double().clamp_min(20.0) / t["centroid_hz"])
                     / torch.log1p(tol["centroid_rel"])) ** 2,
        "ms": ((m["ms"].double().clamp_max(4.0) - t["ms"]) / tol["ms_abs"]) ** 2,
        "balance": (((m["balance"].double() - t["balance"]) / tol["balance_abs"][:, None]) ** 2).sum(-1),
        "loudness": (lufs - t["lufs"]) ** 2,
        "lr_balance": m["lr_balance_db"].double() ** 2,
    }


def compute_loss(model, batch: Batch, stem_w: torch.Tensor, master_w: torch.Tensor, w_balance: float = W_BALANCE):
    stem_u, master_u = model(batch.features, batch.roles, batch.mask, batch.style, batch.stem_prior,
                             batch.master_prior, batch.bounds)
    strips = render_strips(batch, stem_u)
    out = render_batch(batch, stem_u, master_u, strips)
    m = measure(out, batch.sample_rate)
    terms = loss_terms(m, batch)
    level_err, live = stem_level_errors(batch, strips)
    per_session = torch.zeros(stem_u.shape[0], dtype=torch.float64)
    terms["stem_levels"] = per_session.index_add(0, batch.session_of, (level_err / LEVEL_TOLERANCE_DB) ** 2) \
        / per_session.index_add(0, batch.session_of, live).clamp_min(1.0)
    target = (_ph(terms["centroid"]) + _ph(terms["ms"]) + w_balance * _ph(terms["balance"])
              + W_LOUDNESS * _ph(terms["loudness"]) + W_LR_BALANCE * _ph(terms["lr_balance"])
              + W_STEM_LEVELS * _ph(terms["stem_levels"])).mean()
    mask = batch.mask[..., None].to(stem_u.dtype)
    stem_reg = (((stem_u - batch.stem_prior) ** 2 * stem_w * mask).sum((1, 2)) / mask.sum((1, 2))).mean()
    master_reg = (((master_u - batch.master_prior) ** 2) * master_w).sum(-1).mean()
    loss = target + stem_reg + master_reg
    with torch.no_grad():
        centroid_err = torch.expm1(torch.sqrt(terms["centroid"]) * torch.log1p(batch.tolerances["centroid_rel"]))
        stats = {"loss": float(loss), "target": float(target), "regulariser": float(stem_reg + master_reg),
                 "centroid_err": float(centroid_err.median()),
                 "ms_err": float((torch.sqrt(terms["ms"]) * batch.tolerances["ms_abs"]).median())}
    return loss, stats


# ----------------------------------------------------------------------------- checkpoints

def _checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".ckpt")


def save_checkpoint(path: Path, model, opt, step: int, config: TrainConfig, history: list) -> None:
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    state = opt.state_dict()
    for pid, st in state["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = v.detach().contiguous() if isinstance(v, torch.Tensor) else torch.tensor(v)
    meta = {"step": step, "config": config.to_dict(), "param_groups": state["param_groups"], "history": history}
    tmp = path.with_name(path.name + ".partial")
    save_file(tensors, str(tmp), metadata={"automix": json.dumps(meta)})
    os.replace(tmp, path)


def load_checkpoint(path: Path, model, config: TrainConfig) -> tuple[int, list, torch.optim.Optimizer]:
    """Restore ``model`` and the optimiser of the checkpoint's stage; returns ``(step, history, optimiser)``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["automix"])
    for key, flag in (("steps", "steps"), ("tone_steps", "tone-steps")):  # the schedules depend on the lengths
        if meta["config"].get(key) != getattr(config, key):
            raise TrainingError(f"{path}: checkpoint of a run with {key.replace('_', ' ')} "
                                f"{meta['config'].get(key)}; pass --{flag} {meta['config'].get(key)} to finish "
                                "it, or --fresh to start over")
    if meta["config"] != config.to_dict():
        raise TrainingError(f"{path}: checkpoint of a run with another config; delete it or pass --fresh")
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    opt = stage_optimizer(model, config, stage_of(config, int(meta["step"])))
    state: dict = {"state": {}, "param_groups": meta["param_groups"]}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            state["state"].setdefault(int(pid), {})[name] = v
    opt.load_state_dict(state)
    return int(meta["step"]), meta["history"], opt


# ----------------------------------------------------------------------------- the run

def _step_rng(config: TrainConfig, step: int) -> np.random.Generator:
    return np.random.default_rng([config.seed, 2, step])


def choose_batch(pool: Sequence[PoolSession], presets: Sequence, config: TrainConfig, step: int):
    """The sessions and targets of one step, from ``(seed, step)`` alone; one sample rate per batch."""
    rng = _step_rng(config, step)
    rates = sorted({x.sample_rate for x in pool})
    weights = np.array([sum(x.sample_rate == r for x in pool) for r in rates], dtype=float)
    rate = rates[int(rng.choice(len(rates), p=weights / weights.sum()))]
    members = [i for i, x in enumerate(pool) if x.sample_rate == rate]
    picks = rng.choice(members, size=min(config.batch_sessions, len(members)), replace=False)
    sessions = [pool[int(i)] for i in picks]
    tilt = balance_tilt(presets)
    styles = [sample_style(rng, presets, config.preset_share, tilt) for _ in sessions]
    return sessions, styles


def stage_of(config: TrainConfig, step: int) -> str:
    """``train`` (everything but the tone head) for the first ``steps`` steps, then ``tone`` (the tone head)."""
    return "train" if step < config.steps else "tone"


def stage_optimizer(model, config: TrainConfig, stage: str) -> torch.optim.Optimizer:
    """Freeze what the stage does not train and return an Adam over the rest.

    The first stage leaves the tone head frozen at its zero-initialised output (no gradient, no Adam state,
    out of the gradient-norm clip), so its steps are those of a predictor without one.
    """
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("tone_head.") == (stage == "tone"))
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)


def learning_rate(config: TrainConfig, step: int) -> float:
    """Cosine decay from ``config.lr`` to a tenth of it over each stage."""
    if step < config.steps:
        return config.lr * (0.55 + 0.45 * math.cos(math.pi * step / max(config.steps, 1)))
    return config.lr * (0.55 + 0.45 * math.cos(math.pi * (step - config.steps) / max(config.tone_steps, 1)))


def train(out: str | os.PathLike, config: TrainConfig, *, fresh: bool = False,
          progress: Callable[[str, int, int, dict | None], None] | None = None) -> dict:
    """Train the predictor and write ``out`` (safetensors) + its manifest; returns the manifest.

    A checkpoint ``OUT.ckpt`` is written every ``config.checkpoint_every`` steps and
    picked up by the next run with the same config (unless ``fresh``); it is removed
    when the run finishes.
    """
    from automix.predictor import MixingParameterPredictor
    from automix.styles import load_style_targets
    from automix.weights import save_weights

    out = Path(out)
    if out.suffix != ".safetensors":
        raise TrainingError(f"{out}: weights are written as safetensors; name the output *.safetensors")
    if not out.parent.is_dir():
        raise TrainingError(f"{out}: folder {out.parent} does not exist; create it first")
    if config.steps < 1 or config.tone_steps < 0 or config.batch_sessions < 1 or config.pool_sessions < 1:
        raise TrainingError("--steps, the batch and the pool must be at least 1 (--tone-steps at least 0)")
    t0 = time.perf_counter()
    torch.set_num_threads(max(1, config.threads))
    report = (lambda *a: progress(*a)) if progress else (lambda *a: None)

    pool = folder_pool(config, lambda *a: report(*a, None)) if config.sessions_dir else \
        generated_pool(config, lambda *a: report(*a, None))
    if not pool:
        raise TrainingError("no usable (non-silent) training sessions")
    presets = list(load_style_targets().values())

    torch.manual_seed(config.seed)
    model = MixingParameterPredictor()
    stem_w, master_w = pull_weights(STEM_SLOTS, STEM_PULL), pull_weights(MASTER_SLOTS, MASTER_PULL)
    ckpt = _checkpoint_path(out)
    total = config.steps + config.tone_steps
    start, history, opt = 0, [], None
    if ckpt.exists() and not fresh:
        start, history, opt = load_checkpoint(ckpt, model, config)
        report("resume", start, total, None)
    t_data = time.perf_counter() - t0
    model.train()
    opt = opt or stage_optimizer(model, config, stage_of(config, start))
    for step in range(start, total):
        stage = stage_of(config, step)
        sessions, styles = choose_batch(pool, presets, config, step)
        batch = make_batch(sessions, styles)
        for group in opt.param_groups:  # cosine decay to lr/10: a function of the step, so resuming is exact
            group["lr"] = learning_rate(config, step)
        opt.zero_grad()
        loss, stats = compute_loss(model, batch, stem_w, master_w,
                                   W_BALANCE if stage == "train" else TONE_W_BALANCE)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        history.append({"step": step, **{k: round(v, 5) for k, v in stats.items()}})
        first = stage == "train"
        report(stage, step + 1 if first else step + 1 - config.steps, config.steps if first else config.tone_steps,
               stats)
        if step + 1 < total and stage_of(config, step + 1) != stage:  # before the checkpoint: it holds the next
            model.tone_head.trust_solve()  # stage's start and optimiser
            opt = stage_optimizer(model, config, stage_of(config, step + 1))
        if (step + 1) % config.checkpoint_every == 0 and step + 1 < total:
            save_checkpoint(ckpt, model, opt, step + 1, config, history)
    model.eval()

    def final(rows):  # the mean over a stage's last 50 steps smooths the batch-to-batch noise
        return {k: round(float(np.mean([h[k] for h in rows[-50:]])), 4) for k in rows[0]} if rows else {}

    training = {
        "config": config.to_dict(),
        "command": f"automix train --out {out.name} --steps {config.steps} --tone-steps {config.tone_steps} "
                   f"--seed {config.seed}" + (f" --sessions {config.sessions_dir}" if config.sessions_dir else ""),
        "pool_sessions": len(pool), "data_s": round(t_data, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "final": final(history),
        "final_first_stage": final([h for h in history if h["step"] < config.steps]),
        "loss_curve": [history[i] for i in range(0, len(history), max(1, len(history) // 40))],
        "torch": torch.__version__, "machine": platform.machine(),
    }
    manifest = save_weights(model, out, training)
    if ckpt.exists():
        ckpt.unlink()
    return manifest

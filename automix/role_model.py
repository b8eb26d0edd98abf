"""Role from the audio, for stems whose file names say nothing (``Audio 07.wav``, ``Track 02.wav``).

A multinomial logistic model on the stem's level-invariant features (:meth:`StemFeatures.vector
<automix.features.StemFeatures.vector>`: centroid, crest, percussiveness, band and octave shares,
stereo image, loudness-envelope shares) gives a probability per role. It is fitted by
:func:`fit` on generated training sessions whose roles are known (``automix train-roles``), and
ships as ``automix/weights/roles.json``.

The most probable role wins. (Picking instead the role with the least expected level error, so
that an unsure stem lands between its candidates' levels, measured no better on held-out sessions
and named the wrong role half the time.)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

#: the shipped model
MODEL_PATH = Path(__file__).parent / "weights" / "roles.json"
SCHEMA = "automix.roles/1"
#: L2 penalty on the standardised weights: keeps rare roles from being fitted to a handful of stems
DEFAULT_L2 = 1e-4
#: sessions ``automix train-roles`` generates by default (about 2,600 stems)
DEFAULT_SESSIONS = 300


@dataclass(frozen=True, eq=False)  # arrays: compare models by their files, not with ==
class RoleModel:
    """Softmax over ``roles`` of ``weight @ ((x - mean) / scale) + bias``.

    Shapes: ``mean``, ``scale`` ``(F,)``; ``weight`` ``(R, F)``; ``bias`` ``(R,)``; F = the length of
    the feature vector, R = ``len(roles)``.
    """

    roles: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    info: Mapping | None = None

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Role probabilities for feature vectors ``(F,)`` or ``(N, F)``; shape ``(R,)`` or ``(N, R)``."""
        z = ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.weight.T + self.bias
        z = z - z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def role(self, x: np.ndarray) -> str:
        """The most probable role for one feature vector ``(F,)``."""
        return self.roles[int(np.argmax(self.probabilities(x)))]

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "roles": list(self.roles), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weight": self.weight.tolist(), "bias": self.bias.tolist(), "info": dict(self.info or {})}

    @classmethod
    def from_dict(cls, d: Mapping) -> "RoleModel":
        if d.get("schema") != SCHEMA:
            raise ValueError(f"not a role model (schema {d.get('schema')!r}, expected {SCHEMA!r})")
        arr = lambda k: np.asarray(d[k], np.float64)  # noqa: E731
        model = cls(tuple(d["roles"]), arr("mean"), arr("scale"), arr("weight"), arr("bias"), d.get("info") or {})
        r, f = model.weight.shape
        if model.mean.shape != (f,) or model.scale.shape != (f,) or model.bias.shape != (r,) or len(model.roles) != r:
            raise ValueError("role model arrays disagree in shape")
        return model

    def save(self, path: str | Path) -> None:
        from automix.audio_io import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")


@lru_cache(maxsize=1)
def shipped_model() -> RoleModel:
    """The model in ``automix/weights/roles.json`` (loaded once)."""
    return RoleModel.from_dict(json.loads(MODEL_PATH.read_text()))


def fit(x: np.ndarray, y: np.ndarray, roles: Sequence[str], *, l2: float = DEFAULT_L2,
        info: Mapping | None = None) -> RoleModel:
    """Fit the model by L-BFGS on the mean cross-entropy + ``l2`` x the squared weights (float64, deterministic).

    Args:
        x: feature vectors ``(N, F)``.
        y: role indices into ``roles``, ``(N,)``.
    """
    import torch

    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    scale = np.maximum(x.std(axis=0), 1e-6)
    xs = torch.from_numpy((x - mean) / scale)
    yt = torch.from_numpy(np.asarray(y, np.int64))
    w = torch.zeros(len(roles), x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(roles), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=500, tolerance_grad=1e-9, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xs @ w.T + b, yt) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return RoleModel(tuple(roles), mean, scale, w.detach().numpy().copy(), b.detach().numpy().copy(), dict(info or {}))


def generated_examples(seeds: Sequence[int], *, duration_s: float = 10.0,
                       progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Feature vectors and role indices (into :data:`automix.roles.ROLES`) of every non-silent generated stem.

    Returns:
        ``(x (N, F) float64, y (N,) int64)``.
    """
    from automix import sessiongen
    from automix.features import StemFeatureExtractor
    from automix.roles import ROLES

    xs, ys = [], []
    for k, seed in enumerate(seeds):
        s = sessiongen.generate(int(seed), duration_s=duration_s)
        extractor = StemFeatureExtractor(s.sample_rate)
        for stem in s.stems:
            f = extractor.from_array(stem.audio, f"{stem.name}.wav")
            if not f.silent:
                xs.append(f.vector())
                ys.append(ROLES.index(stem.role))
        if progress:
            progress(k + 1, len(seeds))
    return np.asarray(xs, np.float64), np.asarray(ys, np.int64)


def _session_examples(seed: int, duration_s: float) -> tuple[list, list]:
    x, y = generated_examples([seed], duration_s=duration_s)
    return x.tolist(), y.tolist()


def training_seeds(sessions: int, seed: int) -> list[int]:
    """Generator seeds for the role model: inside ``sessiongen.TRAIN_SEEDS``, never held out."""
    from automix.sessiongen import TRAIN_SEEDS

    rng = np.random.default_rng([seed, 2])
    return [int(s) for s in rng.choice(len(TRAIN_SEEDS), size=sessions, replace=False)]


def train_role_model(out: str | Path, *, sessions: int = DEFAULT_SESSIONS, seed: int = 0, duration_s: float = 10.0,
                     jobs: int = 2, l2: float = DEFAULT_L2,
                     progress: Callable[[int, int], None] | None = None) -> RoleModel:
    """Generate ``sessions`` training sessions, fit the model, write it to ``out`` (JSON); returns it.

    Sessions are generated and analysed on ``jobs`` processes (joblib); the fit is deterministic.
    """
    import time

    from joblib import Parallel, delayed

    from automix.roles import ROLES

    t0 = time.perf_counter()
    seeds = training_seeds(sessions, seed)
    xs, ys = [], []
    runner = Parallel(n_jobs=jobs, return_as="generator")
    for k, (x, y) in enumerate(runner(delayed(_session_examples)(s, duration_s) for s in seeds)):
        xs += x
        ys += y
        if progress:
            progress(k + 1, len(seeds))
    x, y = np.asarray(xs, np.float64), np.asarray(ys, np.int64)
    model = fit(x, y, ROLES, l2=l2)
    accuracy = float(np.mean(model.probabilities(x).argmax(axis=1) == y))
    model = RoleModel(model.roles, model.mean, model.scale, model.weight, model.bias, {
        "command": f"automix train-roles --out {Path(out).name} --sessions {sessions} --seed {seed}",
        "sessions": sessions, "seed": seed, "duration_s": duration_s, "examples": int(len(y)), "l2": l2,
        "train_accuracy": round(accuracy, 4), "seconds": round(time.perf_counter() - t0, 1)})
    model.save(out)
    return model

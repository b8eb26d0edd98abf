"""Predictor weights: safetensors files with a manifest that records their sha256.

A weights file ``NAME.safetensors`` travels with ``NAME.json``, its manifest::

    {"schema": "automix.weights/1", "sha256": "<hex of the .safetensors bytes>",
     "layout": {"features": [...], "roles": [...], "style": [...], "stem_slots": [...], "master_slots": [...]},
     "training": {...the config and command that produced it...}}

Loading verifies the hash before reading a byte of the tensors, reads them with
safetensors (never pickle), and checks that the layout they were trained for is
the layout of this code (feature names, roles, style vector, plugin slots), so
a weights file can never be silently applied to a different parameter layout.

The package ships ``predictor.safetensors`` + ``predictor.json`` next to this
module (see ``automix train`` and the README for the command that made them).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from automix.errors import WeightsError  # noqa: F401  (raised here; importers read it from here too)

SCHEMA = "automix.weights/1"
SHIPPED = Path(__file__).with_name("predictor.safetensors")


def manifest_path(path: str | os.PathLike) -> Path:
    """The manifest next to a weights file: ``x.safetensors`` -> ``x.json``."""
    return Path(path).with_suffix(".json")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def current_layout() -> dict:
    """What a weights file must have been trained for to load into this code."""
    from automix.features import INPUT_NAMES
    from automix.layout import MASTER_SLOTS, STEM_SLOTS
    from automix.roles import ROLES
    from automix.styles import VECTOR_FIELDS

    return {"features": list(INPUT_NAMES), "roles": list(ROLES), "style": list(VECTOR_FIELDS),
            "stem_slots": [s.key for s in STEM_SLOTS], "master_slots": [s.key for s in MASTER_SLOTS]}


def read_manifest(path: str | os.PathLike) -> dict:
    """The verified manifest of a weights file (hash checked, layout checked).

    Raises:
        WeightsError: missing file or manifest, hash mismatch, or another layout.
    """
    path = Path(path)
    mpath = manifest_path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found; pass an existing .safetensors file")
    if not mpath.is_file():
        raise WeightsError(f"{path}: its manifest {mpath.name} is missing; keep the .json written by "
                           "`automix train` next to the weights")
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{mpath}: not a readable weights manifest ({e}); re-run `automix train`") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise WeightsError(f"{mpath}: not an {SCHEMA} manifest; re-run `automix train`")
    actual = sha256_file(path)
    if manifest.get("sha256") != actual:
        raise WeightsError(f"{path}: sha256 {actual[:12]}... does not match its manifest "
                           f"({str(manifest.get('sha256'))[:12]}...); the file is corrupt or was edited, "
                           "reinstall automix or re-run `automix train`")
    layout = current_layout()
    if manifest.get("layout") != layout:
        diff = sorted(k for k in layout if (manifest.get("layout") or {}).get(k) != layout[k])
        raise WeightsError(f"{path}: trained for another parameter layout (differs in {', '.join(diff)}); "
                           "retrain with `automix train` for this version")
    return manifest


def load_weights(model, path: str | os.PathLike = SHIPPED) -> dict:
    """Load verified weights into ``model`` (a ``MixingParameterPredictor``); returns the manifest."""
    from safetensors.torch import load_file

    manifest = read_manifest(path)
    state = load_file(str(path))
    expected = model.state_dict()
    if set(state) != set(expected) or any(state[k].shape != expected[k].shape for k in state):
        raise WeightsError(f"{path}: tensors do not fit this predictor (architecture "
                           f"{manifest.get('training', {}).get('hidden')}); retrain with `automix train`")
    model.load_state_dict(state)
    return manifest


def save_weights(model, path: str | os.PathLike, training: dict) -> dict:
    """Write ``path`` (safetensors) and its manifest atomically; returns the manifest."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(tmp),
              metadata={"schema": SCHEMA})
    manifest = {"schema": SCHEMA, "sha256": sha256_file(tmp), "bytes": tmp.stat().st_size,
                "layout": current_layout(), "training": training}
    from automix.audio_io import write_text_atomic

    os.chmod(tmp, 0o644)  # safetensors writes 0600; weights are data to share, like the manifest
    os.replace(tmp, path)
    write_text_atomic(manifest_path(path), json.dumps(manifest, indent=2) + "\n")
    return manifest


def fingerprint(path: str | os.PathLike = SHIPPED) -> str:
    """sha256 of a weights file, or ``priors-only`` when there is none."""
    return sha256_file(path) if Path(path).is_file() else "priors-only"

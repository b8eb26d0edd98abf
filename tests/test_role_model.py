"""The role model: a correct fit (optimality in float64), a faithful file, and roles right on unseen sessions."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automix.role_model import RoleModel, fit, generated_examples, shipped_model
from automix.roles import ROLES, infer_role
from automix.sessiongen import generate, held_out_seeds


def _blobs(seed=0, n=200):
    rng = np.random.default_rng(seed)
    centres = np.array([[2.0, 0.0, 0.0], [-2.0, 1.0, 0.0], [0.0, -2.0, 3.0]])
    y = rng.integers(0, 3, n)
    return centres[y] + rng.normal(0, 1.0, (n, 3)), y


def test_fit_reaches_the_optimum_of_its_objective():
    x, y = _blobs()
    l2 = 1e-2
    m = fit(x, y, ("a", "b", "c"), l2=l2)
    # the gradient of the penalised cross-entropy vanishes at the returned weights (float64 autograd)
    xs = torch.from_numpy((x - m.mean) / m.scale)
    w = torch.from_numpy(m.weight).requires_grad_()
    b = torch.from_numpy(m.bias).requires_grad_()
    loss = torch.nn.functional.cross_entropy(xs @ w.T + b, torch.from_numpy(y)) + l2 * (w * w).sum()
    loss.backward()
    assert float(w.grad.abs().max()) < 1e-6 and float(b.grad.abs().max()) < 1e-6
    p = m.probabilities(x)
    assert p.shape == (len(x), 3) and np.allclose(p.sum(axis=1), 1.0)
    assert np.mean(p.argmax(axis=1) == y) > 0.9
    # the softmax is the one torch computes
    assert np.allclose(p, torch.softmax(xs @ w.T + b, dim=1).detach().numpy(), atol=1e-12)


def test_the_file_round_trips_and_a_wrong_file_is_refused(tmp_path):
    x, y = _blobs(1)
    m = fit(x, y, ("a", "b", "c"), info={"note": "test"})
    m.save(tmp_path / "roles.json")
    import json

    back = RoleModel.from_dict(json.loads((tmp_path / "roles.json").read_text()))
    assert back.roles == m.roles and back.info == {"note": "test"}
    assert np.array_equal(back.probabilities(x), m.probabilities(x))
    with pytest.raises(ValueError, match="schema"):
        RoleModel.from_dict({"schema": "other"})
    bad = m.to_dict()
    bad["bias"] = bad["bias"][:2]
    with pytest.raises(ValueError, match="shape"):
        RoleModel.from_dict(bad)


def test_the_shipped_model_names_roles_on_held_out_sessions():
    model = shipped_model()
    assert model.roles == ROLES and model.weight.shape[0] == len(ROLES)
    seeds = held_out_seeds(30)[-4:]  # sessions no evaluation table is built from
    x, y = generated_examples(seeds, duration_s=6.0)
    got = model.probabilities(x).argmax(axis=1)
    assert len(y) >= 20 and np.mean(got == y) >= 0.75


def test_a_stem_without_a_telling_name_gets_its_role_from_the_audio():
    from automix.features import StemFeatureExtractor

    s = generate(held_out_seeds(31)[-1], duration_s=6.0)
    extractor = StemFeatureExtractor(s.sample_rate)
    named = [(st, extractor.from_array(st.audio, "x.wav")) for st in s.stems if st.role in ("kick", "bass")]
    assert named
    for st, f in named:
        assert infer_role("Audio 07.wav", f.values) == (st.role, "features")

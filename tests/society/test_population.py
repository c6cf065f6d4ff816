"""Population initialisers: ranges, moments, shapes, files, determinism."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
import torch

from simlab.registry import POPULATIONS
from simlab.society.population import load_opinions


def sample(spec: dict, topics: int = 4, seed: int = 0):
    return POPULATIONS.build(spec).sample(topics, torch.Generator().manual_seed(seed), "cpu")


@pytest.mark.parametrize("kind", ["uniform", "normal", "bimodal", "beta"])
def test_shapes_ranges_and_per_user_fields(kind):
    users = sample({"type": kind, "size": 500, "axes": 3}, topics=7)
    assert users.opinion.shape == (500, 3) and users.innate.shape == (500, 3)
    assert users.opinion.dtype == torch.float32
    assert users.opinion.abs().max() <= 1
    assert torch.equal(users.opinion, users.innate) and users.opinion is not users.innate
    for name in ("susceptibility", "anchoring", "confidence", "activity", "group"):
        assert getattr(users, name).shape == (500,)
    assert users.interests.shape == (500, 7)
    torch.testing.assert_close(users.interests.sum(1), torch.ones(500))
    assert (users.interests >= 0).all()


def test_moments():
    n = 40_000
    x = sample({"type": "uniform", "size": n}).opinion[:, 0].double()
    assert abs(x.mean()) < 0.02 and abs(x.var() - 1 / 3) < 0.01  # U[-1, 1]: variance 1/3
    x = sample({"type": "normal", "size": n, "mean": 0.2, "std": 0.1}).opinion[:, 0].double()
    assert abs(x.mean() - 0.2) < 0.005 and abs(x.std() - 0.1) < 0.005
    x = sample({"type": "bimodal", "size": n, "center": 0.6, "std": 0.1}).opinion[:, 0].double()
    assert abs((x > 0).double().mean() - 0.5) < 0.02 and abs(x.abs().mean() - 0.6) < 0.01
    a, b = 2.0, 5.0
    x = sample({"type": "beta", "size": n, "a": a, "b": b}).opinion[:, 0].double()
    assert abs(x.mean() - (2 * a / (a + b) - 1)) < 0.01  # E[2B - 1]
    assert abs(x.var() - 4 * a * b / ((a + b) ** 2 * (a + b + 1))) < 0.005


def test_clipped_normal_piles_up_at_the_bounds():
    x = sample({"type": "normal", "size": 10_000, "mean": 0.9, "std": 0.5}).opinion
    assert x.max() == 1.0 and (x == 1.0).float().mean() > 0.3


def test_determinism_and_seed_sensitivity():
    spec = {"type": "bimodal", "size": 200, "axes": 2, "susceptibility_spread": 0.05, "groups": 3}
    a, b, c = sample(spec, seed=5), sample(spec, seed=5), sample(spec, seed=6)
    for name, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[name]), name
    assert not torch.equal(a.opinion, c.opinion)
    assert not torch.equal(a.interests, c.interests)


def test_parameters_spreads_and_groups():
    users = sample(
        {
            "type": "uniform",
            "size": 5000,
            "susceptibility": 0.2,
            "susceptibility_spread": 0.1,
            "activity": 0.9,
            "activity_spread": 0.2,
            "anchoring": 0.3,
            "confidence": 0.7,
        }
    )
    assert users.susceptibility.min() >= 0.1 and users.susceptibility.max() <= 0.3
    assert users.susceptibility.std() > 0.05
    assert users.activity.max() <= 1.0 and users.activity.min() >= 0.7
    assert (users.anchoring == 0.3).all() and (users.confidence == 0.7).all()
    assert torch.equal(users.group, (users.opinion[:, 0] >= 0).long())  # two groups: the two camps
    assert set(sample({"type": "uniform", "size": 3000, "groups": 4}).group.tolist()) == {0, 1, 2, 3}
    assert (sample({"type": "uniform", "size": 10, "groups": 1}).group == 0).all()


def test_interest_concentration():
    sharp = sample({"type": "uniform", "size": 2000, "interest_concentration": 0.05}, topics=10).interests
    flat = sample({"type": "uniform", "size": 2000, "interest_concentration": 50.0}, topics=10).interests
    assert sharp.max(1).values.mean() > 0.7 and flat.max(1).values.mean() < 0.2
    assert torch.isfinite(sharp).all()
    assert torch.equal(sample({"type": "uniform", "size": 3}, topics=1).interests, torch.ones(3, 1))


def test_invalid_settings_are_rejected():
    for bad in ({"size": 0}, {"axes": 0}, {"anchoring": 1.5}, {"activity": -0.1}, {"unknown": 1}):
        with pytest.raises(pydantic.ValidationError):
            POPULATIONS.build({"type": "uniform", **bad})


def test_file_population(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, (7, 2))
    np.save(tmp_path / "x.npy", x)
    users = sample({"type": "file", "path": str(tmp_path / "x.npy")})
    np.testing.assert_allclose(users.opinion.numpy(), x, atol=1e-7)
    np.savetxt(tmp_path / "x.csv", x, delimiter=",", header="a,b", comments="")
    np.testing.assert_allclose(sample({"type": "file", "path": str(tmp_path / "x.csv")}).opinion.numpy(), x, atol=1e-7)
    np.savetxt(tmp_path / "one.csv", x[:, 0])
    assert sample({"type": "file", "path": str(tmp_path / "one.csv"), "size": 7, "axes": 1}).opinion.shape == (7, 1)


def test_file_population_errors(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((5, 2)))
    with pytest.raises(ValueError, match="has 5 rows but size is 6"):
        sample({"type": "file", "path": str(tmp_path / "x.npy"), "size": 6})
    with pytest.raises(ValueError, match="2 opinion axes but axes is 3"):
        sample({"type": "file", "path": str(tmp_path / "x.npy"), "axes": 3})
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"expected shape \(N,\) or \(N, K\)"):
        load_opinions(tmp_path / "cube.npy")
    np.save(tmp_path / "big.npy", np.array([0.0, 1.5]))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        load_opinions(tmp_path / "big.npy")
    (tmp_path / "ragged.csv").write_text("0.1,0.2\n0.3\n")
    with pytest.raises(ValueError, match=r"ragged\.csv"):
        load_opinions(tmp_path / "ragged.csv")
    with pytest.raises(ValueError, match="does not exist"):
        load_opinions(tmp_path / "missing.npy")

"""The history-based DLRM (``user_id: false``, after Covington, Adams & Sargin, RecSys 2016):
no user-id table, so a user is only the history bag and the dense counters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from simlab.recommenders.dlrm import HISTORY_FEATURES, SPARSE_FEATURES
from tests.recommenders.test_dlrm import make_rec, make_view, synthetic_log

ROOT = Path(__file__).resolve().parents[2]


def test_without_user_id_the_model_has_no_user_table():
    rec = make_rec(make_view(12, 20), user_id=False)
    assert rec.model.sparse_features == HISTORY_FEATURES
    assert "user" not in rec.model.sparse_arch.embedding_bags
    assert not rec.model.has_user_id
    # F = 4 sparse + 1 dense vectors: 4 * 5 / 2 = 10 dots after the dense vector of width d = 8
    assert rec.model.inter_arch.out_features == 8 + 10
    with_id = make_rec(make_view(12, 20))
    assert with_id.model.sparse_features == SPARSE_FEATURES and "user" in with_id.model.sparse_arch.embedding_bags


def _trained(user_id: bool):
    view = make_view(12, 20, seed=4)
    rec = make_rec(view, user_id=user_id)
    log, _ = synthetic_log(view, 2000, seed=1)
    rec.train(log, 0)
    return view, rec


@pytest.mark.parametrize("dense_features", ["all", "user"])
def test_users_with_the_same_history_and_counters_get_the_same_scores(dense_features):
    view = make_view(12, 20, seed=4)
    rec = make_rec(view, user_id=False, dense_features=dense_features)
    rec.train(synthetic_log(view, 2000, seed=1)[0], 0)
    # users 3 and 7 made identical to the platform: same bag, same counters
    view.history[7] = view.history[3]
    view.user_impressions[7], view.user_engagements[7] = view.user_impressions[3], view.user_engagements[3]
    candidates = torch.arange(20).expand(2, 20)
    scores = rec.score(torch.tensor([3, 7]), candidates)
    torch.testing.assert_close(scores[0], scores[1], rtol=0, atol=1e-6)
    probabilities = rec.predict(torch.tensor([3] * 20 + [7] * 20), torch.arange(20).repeat(2))
    # (equal up to float rounding: the rows sit at different places of one batch)
    torch.testing.assert_close(probabilities[:20], probabilities[20:], rtol=0, atol=1e-6)
    # a user id model tells them apart by their id rows
    with_id = make_rec(view, user_id=True, dense_features=dense_features)
    with_id_scores = with_id.score(torch.tensor([3, 7]), candidates)
    assert (with_id_scores[0] - with_id_scores[1]).abs().max() > 1e-3


def test_wiping_a_history_changes_the_scores():
    view, rec = _trained(user_id=False)
    user, candidates = torch.tensor([5]), torch.arange(20)[None]
    assert bool((view.history[5] >= 0).any())
    before = rec.score(user, candidates)
    view.forget(user)
    after = rec.score(user, candidates)
    assert (before - after).abs().max() > 1e-3
    # and the wiped user now scores as any other user with no history and no counters
    view.forget(torch.tensor([9]))
    torch.testing.assert_close(rec.score(torch.tensor([9]), candidates), after, rtol=0, atol=0)


def test_history_only_model_trains_and_checkpoints():
    view, rec = _trained(user_id=False)
    state = rec.state_dict()
    assert "user" not in state["rows"]
    again = make_rec(view, seed=3, user_id=False)
    again.load_state_dict(state)
    candidates = torch.arange(20).expand(3, 20)
    users = torch.tensor([0, 1, 2])
    torch.testing.assert_close(again.score(users, candidates), rec.score(users, candidates), rtol=0, atol=0)


def test_user_id_setting_is_listed():
    out = subprocess.run(
        [sys.executable, "-m", "simlab", "list", "--settings", "recommender.dlrm"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "user_id" in out

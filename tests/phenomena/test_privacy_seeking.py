"""Phenomenon 9, small version: the platform cannot personalise for logged-out users, so under
the DLRM their feed matches their opinions less closely (a larger opinion distance d_ij of the
shown items) than the logged-in users' feed in the same society."""

from __future__ import annotations

import torch


def test_logged_out_users_get_a_less_personal_feed(phenomenon):
    doc = phenomenon.small("privacy_seeking", {"population.size": 300, "catalog.size": 400, "steps": 20})
    doc["metrics"] = {"include": ["ctr"]}
    scenario_sim, _ = phenomenon.run(doc)
    sim = scenario_sim
    distance = {True: [], False: []}
    for _ in range(10):  # ten more steps, measured from each step's impressions
        sim.step()
        i = sim.context.impressions
        d = (sim.users.opinion[i.user] - sim.catalog.stance[i.item]).abs().mean(dim=1)
        out = sim.users.logged_out[i.user]
        distance[True].append(d[out].mean())
        distance[False].append(d[~out].mean())
    assert float(torch.stack(distance[True]).mean()) > float(torch.stack(distance[False]).mean()) + 0.01

"""Phenomenon 9, small version, as simlab shows it (not as the paper reports it): the platform
cannot personalise for logged-out users, yet under the DLRM at this scale their feed matches
their opinions about as closely (opinion distance d_ij of the shown items) as the logged-in
users' feed: the DLRM personalises little for anyone, so losing identity costs little."""

from __future__ import annotations

import torch


def test_logged_out_users_get_a_feed_about_as_personal(phenomenon):
    doc = phenomenon.small("privacy_seeking", {"population.size": 300, "catalog.size": 400, "steps": 20})
    doc["metrics"] = {"include": ["ctr"]}
    sim, _ = phenomenon.run(doc)
    distance = {True: [], False: []}
    for _ in range(10):  # ten more steps, measured from each step's impressions
        sim.step()
        i = sim.context.impressions
        d = (sim.users.opinion[i.user] - sim.catalog.stance[i.item]).abs().mean(dim=1)
        out = sim.users.logged_out[i.user]
        distance[True].append(d[out].mean())
        distance[False].append(d[~out].mean())
    gap = float(torch.stack(distance[True]).mean()) - float(torch.stack(distance[False]).mean())
    assert abs(gap) < 0.03

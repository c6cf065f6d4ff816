"""The closed loop and its state: :class:`~simlab.loop.simulation.Simulation` (one replicate,
docs/design.md §2 "One step"), the state arrays (:mod:`~simlab.core.state`: users, catalog, graph,
impression log) and the named random streams (:mod:`~simlab.core.rng`).
"""

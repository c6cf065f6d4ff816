"""The simulated society: who the users are (:mod:`~simlab.society.population`), how they
respond to items (:mod:`~simlab.society.behavior`), how their opinions move
(:mod:`~simlab.society.dynamics`), what is on offer (:mod:`~simlab.society.catalog`) and who
knows whom (:mod:`~simlab.society.network`).
"""

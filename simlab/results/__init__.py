"""Results: what a finished run means, read from its folder; the layer below both
:mod:`simlab.running` (which writes summary.csv with it) and :mod:`simlab.outputs` (which draws and
reports with it). Never imports matplotlib.

- :mod:`~simlab.results.tables`: the columns and points of a metrics table, baselines.
- :mod:`~simlab.results.intervals`: the project's one interval (95% t-interval over replicates,
  cut at each metric's declared range), paired differences and significance.
- :mod:`~simlab.results.applicable`: which metrics apply to which points.
- :mod:`~simlab.results.run`: the run reader (:class:`~simlab.results.run.Run`, snapshots).
"""

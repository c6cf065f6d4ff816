"""Outputs that read a finished run folder: figures (:mod:`simlab.outputs.plotting`) and the
HTML report (:mod:`simlab.outputs.report`). The simulation core never imports these.
"""

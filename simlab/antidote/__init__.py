"""Antidote data (Rastegarpanah, Gummadi & Crovella, WSDM 2019, "Fighting Fire with Fire").

:func:`optimize` adds a small budget of synthetic users to a ratings matrix whose ratings are
optimised so that the ALS model refitted on it predicts less polarised (or less unfair) ratings
for the real users. The closed-loop intervention is :mod:`simlab.interventions.antidote`.
"""

from simlab.antidote.objectives import OBJECTIVES
from simlab.antidote.optimize import METHODS, AntidoteResult, n_antidote, optimize, prepare

__all__ = ["METHODS", "OBJECTIVES", "AntidoteResult", "n_antidote", "optimize", "prepare"]

"""Public alias of :mod:`simlab.society.dynamics` (the API of docs/design.md §3 names
``simlab.dynamics.fj_equilibrium``): the opinion-dynamics models and the FJ equilibrium.
"""

from simlab.society.dynamics import *  # noqa: F403
from simlab.society.dynamics import __all__  # noqa: F401

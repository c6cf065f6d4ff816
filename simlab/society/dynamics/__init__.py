"""Opinion dynamics (docs/design.md §2, step 5): registered DYNAMICS types and the FJ equilibrium.

Every type is built as ``cls(settings)`` and has
``update(users, engaged_user, engaged_item, catalog, graph, generator) -> Tensor (N, K)``, the
next opinions clipped to [-1, 1]; engaged_user / engaged_item (E,) are this step's engagements
and ``catalog.stance[engaged_item]`` (E, K) their stances.

Types: ``assimilation`` (default), ``degroot``, ``friedkin_johnsen``, ``bounded_confidence``
(Deffuant or Hegselmann–Krause), ``biased_assimilation``, ``algorithmic_bias``, ``none``.
"""

from simlab.society.dynamics.assimilation import Assimilation, NoDynamics
from simlab.society.dynamics.base import DynamicsBase, random_matching
from simlab.society.dynamics.biased_assimilation import BiasedAssimilation
from simlab.society.dynamics.bounded_confidence import AlgorithmicBias, BoundedConfidence
from simlab.society.dynamics.equilibrium import fj_equilibrium, laplacian
from simlab.society.dynamics.linear import DeGroot, FriedkinJohnsen

DEFAULT = "assimilation"

__all__ = [
    "DEFAULT",
    "AlgorithmicBias",
    "Assimilation",
    "BiasedAssimilation",
    "BoundedConfidence",
    "DeGroot",
    "DynamicsBase",
    "FriedkinJohnsen",
    "NoDynamics",
    "fj_equilibrium",
    "laplacian",
    "random_matching",
]

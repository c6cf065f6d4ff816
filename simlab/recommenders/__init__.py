"""Recommenders behind the :class:`simlab.core.protocols.Recommender` protocol: the baselines, ALS
matrix factorisation and the DLRM. Importing it registers every built-in recommender type.
"""

from simlab.recommenders import als, baselines  # noqa: F401
from simlab.recommenders.dlrm import recommender  # noqa: F401

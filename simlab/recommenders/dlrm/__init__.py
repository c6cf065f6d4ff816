"""The DLRM (Naumov et al. 2019), one module per stage as in torchrec:

- :mod:`~simlab.recommenders.dlrm.arches`: sparse, dense, interaction and over arches;
- :mod:`~simlab.recommenders.dlrm.model`: :class:`DLRM`, the arches composed;
- :mod:`~simlab.recommenders.dlrm.scorer`: the factored scorer for A users x C candidates;
- :mod:`~simlab.recommenders.dlrm.trainer`: loss, optimiser and trainer, outside the model;
- :mod:`~simlab.recommenders.dlrm.recommender`: the ``dlrm`` recommender type of the loop.
"""

from simlab.recommenders.dlrm.arches import (
    HISTORY_FEATURES,
    SPARSE_FEATURES,
    DenseArch,
    InteractionArch,
    OverArch,
    SparseArch,
)
from simlab.recommenders.dlrm.model import DLRM

__all__ = ["DLRM", "HISTORY_FEATURES", "SPARSE_FEATURES", "DenseArch", "InteractionArch", "OverArch", "SparseArch"]

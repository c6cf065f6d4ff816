"""Social graphs (docs/design.md §2 "Social graph") and their conversion to sparse tensors.

- :mod:`~simlab.society.network.generators`: the graph generators (Erdős–Rényi, Barabási–Albert,
  Watts–Strogatz, stochastic block model, karate club, none) and the vectorised pair sampler;
- :mod:`~simlab.society.network.files`: the ``edge_list`` type and its file reader;
- :mod:`~simlab.society.network.convert`: :func:`to_graph`, a networkx graph or :class:`Edges` to
  the :class:`simlab.core.state.Graph` the vectorised code uses, and :func:`build_graph`.

The registry names each type by its module (``simlab.society.network.generators:ErdosRenyi``);
the names are re-exported here, so that ``from simlab.society.network import to_graph`` keeps
working.
"""

from simlab.core.state import Edges
from simlab.society.network.convert import build_graph, to_graph
from simlab.society.network.files import EdgeList, edge_list_size, read_edge_list
from simlab.society.network.generators import (
    BarabasiAlbert,
    EmptyNetwork,
    ErdosRenyi,
    KarateClub,
    StochasticBlockModel,
    WattsStrogatz,
    gnp_pairs,
)

__all__ = [
    "BarabasiAlbert",
    "EdgeList",
    "Edges",
    "EmptyNetwork",
    "ErdosRenyi",
    "KarateClub",
    "StochasticBlockModel",
    "WattsStrogatz",
    "build_graph",
    "edge_list_size",
    "gnp_pairs",
    "read_edge_list",
    "to_graph",
]

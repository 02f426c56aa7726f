"""Evaluation: pure metrics, named protocols and result tables.

``get_protocol(name).prepare(dataset, seed).evaluate(model)`` gives a :class:`Result`
that always names its protocol; :func:`leaderboard` prints several of them.
"""

from cinerec.evaluation import metrics
from cinerec.evaluation.protocols import PROTOCOLS, Prepared, Protocol, Result, evaluate, get_protocol
from cinerec.evaluation.report import leaderboard, markdown_table

__all__ = [
    "metrics", "PROTOCOLS", "Prepared", "Protocol", "Result", "evaluate", "get_protocol",
    "leaderboard", "markdown_table",
]

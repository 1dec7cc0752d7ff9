"""Spend reports over the request log: who and what spent how much, since when.

`params` checks what a caller asked for, `sql` turns it into portable bound statements,
`report` runs them on a store and shapes the answer.
"""

from proctor.spend.params import DIMENSIONS, SpendParamError, SpendQuery, spend_query
from proctor.spend.report import Bucket, Group, SpendReport, Totals, spend_report

__all__ = [
    "DIMENSIONS",
    "Bucket",
    "Group",
    "SpendParamError",
    "SpendQuery",
    "SpendReport",
    "Totals",
    "spend_query",
    "spend_report",
]

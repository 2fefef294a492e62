"""Differentially private releases: OpenDP's Laplace mechanism, and a budget they spend.

For a published release, suppression and rounding (ADR 0021) can give way to
differential privacy. :func:`noisy_release` takes the count tables of one release,
puts every cell of every table in one vector, and adds discrete Laplace noise to
all of them at once with OpenDP (``make_laplace`` over integer vectors in L1
distance). A case is counted in at most one cell of each table, so adding or
removing one case changes the vector by at most the number of tables in L1: that
is the sensitivity ``d_in`` OpenDP is given, the noise scale is found by its own
binary search for the release's epsilon, and the privacy loss recorded is the one
OpenDP's privacy map gives for ``d_in``. Margins are sums of the noisy cells and
negative counts become 0: post-processing, which costs nothing more.

The victims' view is counted per record and has no case (ADR 0022), so no bound on
one person's records holds for it: a differentially private release leaves it out,
as it leaves out the survival curves and medians, which are not counts.

:class:`Budget` keeps what every release spent in the evaluator's store, and
refuses a release that would spend more than the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import opendp.prelude as dp

from adapters.evaluator.release import TOTAL, Released, ReleaseRule
from hub.errors import HubError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from adapters.evaluator.release import Table
    from adapters.evaluator.store import Store

dp.enable_features("contrib")

_BUDGET_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS privacy_spent ("
    " release_id VARCHAR PRIMARY KEY, epsilon DOUBLE NOT NULL, released_at TIMESTAMPTZ NOT NULL)"
)


def decimal(value: float) -> str:
    """``value`` as the ledger's decimal text: at most six places, no trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def laplace(scale: float) -> dp.Measurement:
    """OpenDP's discrete Laplace mechanism on a vector of counts, in L1 distance."""
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    return dp.m.make_laplace(*space, scale=scale)


def scale_for(epsilon: float, sensitivity: int) -> float:
    """The noise scale OpenDP finds for a loss of ``epsilon`` at ``sensitivity`` (``d_in``)."""
    return float(dp.binary_search_param(laplace, d_in=sensitivity, d_out=epsilon))


@dataclass(frozen=True)
class NoisyRelease:
    """The noisy tables of one release and the privacy loss OpenDP accounts for them."""

    tables: dict[str, Released]
    epsilon: float
    sensitivity: int


def noisy_release(tables: Mapping[str, Table], epsilon: float) -> NoisyRelease:
    """Release ``tables`` with discrete Laplace noise for a total loss of ``epsilon``.

    Raises:
        ValueError: no tables, or an epsilon that is not positive.
    """
    if not tables or epsilon <= 0:
        raise ValueError("a release needs tables and a positive epsilon")
    sensitivity = len(tables)
    measurement = laplace(scale_for(epsilon, sensitivity))
    keys = [
        (name, (row, column))
        for name, table in tables.items()
        for row in table.rows
        for column in table.columns
    ]
    exact = [len(tables[name].cells.get(cell, frozenset())) for name, cell in keys]
    noisy = [max(0, value) for value in measurement(exact)]
    rule = ReleaseRule(name="laplace", threshold=1, rounding=1, epsilon=decimal(epsilon))
    released = {}
    for name, table in tables.items():
        cells = {cell: v for (owner, cell), v in zip(keys, noisy, strict=True) if owner == name}
        figures: dict[tuple[str, str], int | None] = dict(cells)
        for row in table.rows:
            figures[(row, TOTAL)] = sum(cells[(row, c)] for c in table.columns)
        for column in (*table.columns, TOTAL):
            figures[(TOTAL, column)] = sum(figures[(r, column)] or 0 for r in table.rows)
        released[name] = Released(table.name, table.rows, table.columns, figures, rule)
    loss = float(measurement.map(d_in=sensitivity))  # type: ignore[no-untyped-call]
    return NoisyRelease(released, loss, sensitivity)


class Budget:
    """The privacy budget of one store: what each release spent, and what is left."""

    def __init__(self, store: Store, total: float) -> None:
        """Keep the spending in ``store`` against a budget of ``total``.

        Raises:
            ValueError: a budget that is not positive.
        """
        if total <= 0:
            raise ValueError("a privacy budget must be positive")
        self.store, self.total = store, total
        store.execute(_BUDGET_DDL)

    def spent(self) -> float:
        """The epsilon every release so far spent (basic composition: the sum)."""
        rows = self.store.query("SELECT coalesce(sum(epsilon), 0) AS spent FROM privacy_spent")
        return float(rows[0]["spent"])

    def check(self, epsilon: float) -> None:
        """Refuse a release of ``epsilon`` that the budget cannot pay for.

        Raises:
            HubError: ``privacy.budget_exhausted``, naming what is left.
        """
        left = self.total - self.spent()
        if epsilon > left + 1e-9:
            raise HubError(
                "privacy.budget_exhausted",
                f"this release needs epsilon {decimal(epsilon)}; {decimal(max(left, 0))}"
                f" of the budget {decimal(self.total)} is left",
            )

    def spend(self, release_id: str, epsilon: float) -> float:
        """Record that ``release_id`` spent ``epsilon``; return the total spent after it."""
        self.check(epsilon)
        self.store.execute(
            "INSERT INTO privacy_spent VALUES (?, ?, ?)", (release_id, epsilon, datetime.now(UTC))
        )
        return self.spent()

"""Release control: no figure let out, alone or beside another, shows a small group."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.evaluator.release import (
    SUPPRESSED,
    TOTAL,
    ReleaseControl,
    Released,
    ReleaseRule,
    Table,
    populations,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

MODELS = ("unit", "clinic", "centre")
OUTCOMES = ("reoffended", "not")
RULE = ReleaseRule()


def _table(
    members: list[tuple[str, str, str]],
    name: str = "outcome by model",
    columns: tuple[str, ...] = OUTCOMES,
) -> Table:
    return Table(name, MODELS, columns, populations(members, MODELS, columns))


def _members(
    counts: Mapping[tuple[str, str], int], prefix: str = "p"
) -> list[tuple[str, str, str]]:
    made = []
    for (row, column), count in counts.items():
        made += [(f"{prefix}-{row}-{column}-{i}", row, column) for i in range(count)]
    return made


def test_the_rule_suppresses_one_to_seven_and_rounds_the_rest_to_five() -> None:
    """OpenSAFELY's rule: 1..7 hidden, 0 shown, the rest to the nearest 5 (halves up)."""
    assert [RULE.small(n) for n in (0, 1, 7, 8)] == [False, True, True, False]
    assert [RULE.rounded(n) for n in (0, 8, 12, 13, 102)] == [0, 10, 10, 15, 100]
    assert ReleaseRule(suppress_zero=True).small(0)
    with pytest.raises(ValueError, match="at least 1"):
        ReleaseRule(threshold=0)


def test_a_small_cell_and_one_more_in_its_row_and_column_are_suppressed() -> None:
    """3 re-offended in the clinic: hidden, and so is the next smallest in its row and column."""
    counts = {
        ("unit", "reoffended"): 20, ("unit", "not"): 41,
        ("clinic", "reoffended"): 3, ("clinic", "not"): 30,
        ("centre", "reoffended"): 12, ("centre", "not"): 50,
    }  # fmt: skip
    released = ReleaseControl().release(_table(_members(counts)))
    shown = released.figures
    assert shown[("clinic", "reoffended")] is None
    assert shown[("clinic", "not")] is None  # else the clinic's total gives the 3 away
    assert shown[("centre", "reoffended")] is None  # else the column's total does
    assert shown[("unit", "reoffended")] == 20
    assert shown[(TOTAL, TOTAL)] == 155
    assert SUPPRESSED in released.csv()
    assert released.csv().splitlines()[0] == "outcome by model,reoffended,not,Total"


def test_the_same_table_less_three_people_cannot_reveal_them() -> None:
    """Release everyone, then everyone but 3 of the unit's: the figures that moved by 3 go."""
    counts = {(m, o): 30 for m in MODELS for o in OUTCOMES}
    everyone = _members(counts)
    control = ReleaseControl()
    first = control.release(_table(everyone, "everyone"))
    assert None not in first.figures.values()
    fewer = [
        m
        for m in everyone
        if m[0] not in {"p-unit-reoffended-0", "p-unit-reoffended-1", "p-unit-reoffended-2"}
    ]
    second = control.release(_table(fewer, "everyone but three"))
    for key in (("unit", "reoffended"), ("unit", TOTAL), (TOTAL, "reoffended"), (TOTAL, TOTAL)):
        assert second.figures[key] is None, key
    assert second.figures[("clinic", "not")] == 30  # unchanged populations stay shown


def test_a_table_whose_margins_would_not_add_up_is_refused() -> None:
    """A member in two cells, a cell outside the table, or a row called Total."""
    with pytest.raises(ValueError, match="two cells"):
        Table(
            "t",
            MODELS,
            OUTCOMES,
            {("unit", "not"): frozenset({"a"}), ("clinic", "not"): frozenset({"a"})},
        )
    with pytest.raises(ValueError, match="outside"):
        Table("t", MODELS, OUTCOMES, {("elsewhere", "not"): frozenset({"a"})})
    with pytest.raises(ValueError, match="margins"):
        Table("t", (TOTAL,), OUTCOMES, {})


def test_the_digest_names_the_release_and_changes_with_it() -> None:
    """The hash a ledger entry names is stable and covers figures and rule."""
    table = _table(_members({("unit", "not"): 40, ("clinic", "not"): 40, ("centre", "not"): 40}))
    one, two = ReleaseControl().release(table), ReleaseControl().release(table)
    assert one.digest() == two.digest()
    other = ReleaseControl(ReleaseRule(name="ons", threshold=10)).release(table)
    assert other.digest() != one.digest()


# --- what an attacker can work out, recomputed from the true populations ---------------


def _figures(table: Table) -> dict[tuple[str, str], frozenset[str]]:
    keys = itertools.product((*table.rows, TOTAL), (*table.columns, TOTAL))
    return {key: table.population(*key) for key in keys}


def _check_one(table: Table, released: Released, rule: ReleaseRule) -> None:
    people = _figures(table)
    for key, value in released.figures.items():
        if value is not None:
            assert not rule.small(len(people[key])), f"{key} shows a small group"
    lines = [[(r, c) for c in (*table.columns, TOTAL)] for r in (*table.rows, TOTAL)]
    lines += [[(r, c) for r in (*table.rows, TOTAL)] for c in (*table.columns, TOTAL)]
    for line in lines:
        gone = [key for key in line if released.figures[key] is None]
        if len(gone) == 1:
            pytest.fail(f"{gone[0]} is the rest of its line subtracted from its total")
        total = line[-1]
        if gone and released.figures[total] is not None:
            worked_out = sum(len(people[k]) for k in gone)
            assert not rule.small(worked_out), f"the line of {total} gives away {worked_out}"


#: Three columns, so that no line is a pair a single subtraction covers.
WIDE = ("reoffended", "breached", "neither")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(MODELS), st.sampled_from(WIDE)), max_size=120),
    st.lists(st.sets(st.integers(0, 119), max_size=12), min_size=1, max_size=4),
)
def test_no_release_alone_or_beside_another_reveals_a_small_group(
    placed: list[tuple[str, str]], left_out: list[set[int]]
) -> None:
    """Random cases, released again and again with a few left out each time."""
    members = [(f"m{i}", row, column) for i, (row, column) in enumerate(placed)]
    control, let_out = ReleaseControl(), []
    for index, drop in enumerate(left_out):
        kept = [m for i, m in enumerate(members) if i not in drop]
        table = _table(kept, f"release {index}", WIDE)
        released = control.release(table)
        _check_one(table, released, RULE)
        people = _figures(table)
        let_out += [people[k] for k, v in released.figures.items() if v is not None]
    for mine, other in itertools.combinations(let_out, 2):
        if mine < other or other < mine:
            difference = abs(len(mine) - len(other))
            assert not RULE.small(difference), f"two figures differ by {difference} people"

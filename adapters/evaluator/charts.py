"""The report's charts, drawn from released figures only, as SVG a browser opens offline.

Each chart is a picture a programme board would put in its report: plain titles,
the models named in words, intervals drawn, and the number of cases each figure
rests on. Suppressed figures are left out of a chart and said so in its note. The
SVGs are made the same way each time (no date, a fixed id salt), so one release
gives the same bytes and the same digests.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Final

import matplotlib as mpl

mpl.use("Agg")
mpl.rcParams["svg.hashsalt"] = "case-event-hub-evaluation"
mpl.rcParams["svg.fonttype"] = "none"
mpl.rcParams["font.size"] = 10

import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen

from adapters.evaluator.measures import SCALE, TRANSITIONS, Rate  # noqa: E402

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from adapters.evaluator.measures import Evaluation

#: One colour per model, distinguishable in grey and by colour-blind readers (Okabe-Ito).
COLOURS: Final = ("#0072B2", "#E69F00", "#009E73")
SCALE_COLOURS: Final = ("#B2182B", "#EF8A62", "#CCCCCC", "#67A9CF", "#2166AC")
SCALE_WORDS: Final = ("Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree")
PRIORITY_WORDS: Final = {"standard": "Standard", "medium": "Medium", "high": "High"}


def _colours(count: int) -> list[str]:
    """One colour per row, in turn."""
    return [COLOURS[n % len(COLOURS)] for n in range(count)]


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return out.getvalue()


def survival(e: Evaluation) -> str:
    """Kaplan-Meier curves: the share not yet re-offended, by model, with 95 % bands."""
    figure, axes = plt.subplots(figsize=(7.5, 4.2))
    for colour, (model, points) in zip(_colours(len(e.curves)), e.curves.items(), strict=True):
        if not points:
            continue
        months = [p[0] for p in points]
        axes.step(months, [p[1] for p in points], where="post", color=colour, label=model, lw=2)
        axes.fill_between(
            months,
            [p[2] for p in points],
            [p[3] for p in points],
            step="post",
            color=colour,
            alpha=0.15,
        )
    axes.set_xlabel("Months since the intervention started")
    axes.set_ylabel("Share not re-offended")
    axes.set_ylim(0, 1.02)
    axes.set_xticks(range(0, 25, 3))
    axes.yaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:  # nothing drawn, nothing to name
        axes.legend(loc="lower left", frameon=False)
    axes.set_title("Time to first re-offence or breach (Kaplan-Meier)")
    return _svg(figure)


def _rate_bars(axes: Axes, labels: list[str], rates: list[Rate], colour: str | list[str]) -> None:
    values, lows, highs, names = [], [], [], []
    for label, rate in zip(labels, rates, strict=True):
        found = rate.interval()
        names.append(f"{label}\n(n ≈ {rate.denominator})" if found else f"{label}\n(suppressed)")
        value, low, high = found or (0.0, 0.0, 0.0)
        values.append(value)
        lows.append(value - low)
        highs.append(high - value)
    positions = range(len(values))
    axes.barh(list(positions), values, xerr=[lows, highs], color=colour, capsize=4)
    axes.set_yticks(list(positions), names)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    axes.grid(axis="x", alpha=0.3)


def reoffending(e: Evaluation) -> str:
    """12-month re-offending rate by model, with 95 % Wilson intervals."""
    rates = e.rates("reoffending", "re-offended", "did not")
    figure, axes = plt.subplots(figsize=(7.5, 2.8))
    _rate_bars(axes, [r.label for r in rates], list(rates), _colours(len(rates)))
    axes.set_xlabel("Re-offended or breached within 12 months of the intervention's start")
    axes.set_title("Re-offending within 12 months, by model")
    return _svg(figure)


def stratified(e: Evaluation) -> str:
    """12-month re-offending by model within each starting priority."""
    figure, panels = plt.subplots(1, 3, figsize=(10, 3.2), sharex=True)
    for axes, priority in zip(panels, PRIORITY_WORDS, strict=True):
        rates = e.rates(
            "reoffending_by_priority", f"{priority}: re-offended", f"{priority}: did not"
        )
        short = [r.label.replace(" (", "\n(") for r in rates]
        _rate_bars(axes, short, list(rates), _colours(len(rates)))
        axes.set_title(f"Starting priority: {PRIORITY_WORDS[priority]}")
    figure.suptitle(
        "Re-offending within 12 months, by model, within each starting priority", y=1.06
    )
    return _svg(figure)


def _stacked(  # noqa: PLR0913, PLR0917 - a table and how to draw it
    e: Evaluation,
    key: str,
    columns: tuple[str, ...],
    words: tuple[str, ...],
    colours: tuple[str, ...],
    title: str,
) -> str:
    table = e.tables[key]
    figure, axes = plt.subplots(figsize=(7.5, 2.6))
    for row_index, row in enumerate(table.rows):
        total = table.figures[(row, "Total")]
        left = 0.0
        for column, word, colour in zip(columns, words, colours, strict=True):
            count = table.figures[(row, column)]
            share = (count or 0) / total if total else 0.0
            axes.barh(
                row_index, share, left=left, color=colour, label=word if row_index == 0 else None
            )
            left += share
    axes.set_yticks(
        range(len(table.rows)),
        [f"{r}\n(n ≈ {table.figures[(r, 'Total')] or 'suppressed'})" for r in table.rows],
    )
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.xaxis.set_major_formatter(mpl.ticker.PercentFormatter(1.0))
    if axes.get_legend_handles_labels()[0]:  # nothing drawn, nothing to name
        axes.legend(
            ncol=len(columns), loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False
        )
    axes.set_title(title)
    return _svg(figure)


def draw(e: Evaluation) -> dict[str, str]:
    """Every chart the evaluation has figures for: file name -> SVG text.

    A differentially private release holds counts only: no curves, no medians, no
    victims' view, so those charts are not drawn.
    """
    drawn = {
        "reoffending.svg": reoffending(e),
        "reoffending_by_priority.svg": stratified(e),
        "priority_transitions.svg": _stacked(
            e, "priority_transitions", TRANSITIONS, ("Lower", "Same", "Higher"),
            ("#009E73", "#CCCCCC", "#D55E00"), "Risk priority, first to latest assessment"),
    }  # fmt: skip
    if e.curves:
        drawn["survival.svg"] = survival(e)
    if e.timeliness:
        drawn["timeliness.svg"] = timeliness(e)
    for key, title in (
        ("victims_safer", "'I feel safer': victims' own view"),
        ("victims_satisfied", "'I am satisfied with the response': victims' own view"),
    ):
        if key in e.tables:
            drawn[f"{key}.svg"] = _stacked(e, key, SCALE, SCALE_WORDS, SCALE_COLOURS, title)
    return drawn


def timeliness(e: Evaluation) -> str:
    """Median days from referral to the plan and to the first intervention, with quartiles."""
    figure, axes = plt.subplots(figsize=(7.5, 2.8))
    labels = list(e.timeliness)
    for offset, (what, colour) in enumerate((("plan", "#56B4E9"), ("intervention", "#CC79A7"))):
        for index, model in enumerate(labels):
            found = e.timeliness[model][what]
            if found is None:
                continue
            low, median, high = found
            axes.barh(
                index + offset * 0.38,
                median,
                height=0.36,
                color=colour,
                xerr=[[median - low], [high - median]],
                capsize=3,
                label=f"to the {'management plan' if what == 'plan' else 'first intervention'}"
                if index == 0
                else None,
            )
    axes.set_yticks([i + 0.19 for i in range(len(labels))], labels)
    axes.invert_yaxis()
    axes.set_xlabel("Days from referral (median; bars span the middle half of cases)")
    if axes.get_legend_handles_labels()[0]:  # nothing drawn, nothing to name
        axes.legend(frameon=False, loc="lower right")
    axes.set_title("How soon cases are planned and intervened in")
    return _svg(figure)


def curves_csv(e: Evaluation) -> str:
    """The survival curves' released points as CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["model", "month", "not re-offended", "lower 95%", "upper 95%"])
    for model, points in e.curves.items():
        writer.writerows([model, *point] for point in points)
    return out.getvalue()


def timeliness_csv(e: Evaluation) -> str:
    """Median and quartile days to plan and intervention as CSV; blank where withheld."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["model", "to", "lower quartile", "median", "upper quartile"])
    for model, found in e.timeliness.items():
        for what, values in found.items():
            writer.writerow([model, what, *(values or ("[suppressed]",) * 3)])
    return out.getvalue()

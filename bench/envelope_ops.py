"""Cost per envelope operation, for each event type's sample and on average.

Run with ``make bench-envelope`` (or ``.venv/bin/python -m bench.envelope_ops [--rounds N]``).
Reports microseconds per operation and each operation's cost as a ratio to one
Ed25519 JWS sign-and-verify of the same claims measured in the same run, so the
numbers compare across machines; and each operation on the primitives (ADR 0031)
against the same operation on joserfc, as the envelope was done before, taken in
turn in the same run. It asserts nothing about time.
"""

from __future__ import annotations

import argparse
import statistics
import uuid
from functools import partial
from typing import TYPE_CHECKING

from bench.hub_vs_raw.budget import per_call_us, reference_jws
from bench.hub_vs_raw.variants import ENGINES, variant
from hub.crypto.envelope import (
    DecisionHeader,
    issue_event,
    open_delivery,
    open_ingress,
    present,
)
from hub.crypto.keys import KeyDirectory, generate_party_keys
from schemas.base import FieldGroup
from schemas.samples import all_samples

if TYPE_CHECKING:
    from collections.abc import Callable


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    rings = {
        p: generate_party_keys(p) for p in ("hub", "police", "probation", "health", "advocacy")
    }
    directory = KeyDirectory.of(*rings.values())
    baseline = per_call_us(reference_jws(), rounds)
    totals: dict[tuple[str, str], list[float]] = {}
    for event in all_samples():
        ring = rings[event.author_agency]
        envelope = issue_event(event, ring, directory)
        issuance = open_ingress(envelope, rings["hub"], directory)
        decision = DecisionHeader(uuid.uuid4(), "bench", 1, "health")
        granted = set(issuance.groups) & {FieldGroup.A, FieldGroup.B, FieldGroup.E}
        delivery = present(issuance, granted, decision, rings["hub"], directory)
        row: dict[str, Callable[[], object]] = {
            "issue+seal": partial(issue_event, event, ring, directory),
            "open+verify": partial(open_ingress, envelope, rings["hub"], directory),
            "present+seal": partial(present, issuance, granted, decision, rings["hub"], directory),
            "verify at recipient": partial(open_delivery, delivery, rings["health"], directory),
        }
        for op, call in row.items():
            for name in ENGINES:  # in turn, so a change of the host's speed hits both
                with variant(name):
                    totals.setdefault((op, name), []).append(per_call_us(call, rounds))
    print(f"baseline: one Ed25519 JWS sign+verify on joserfc = {baseline:.0f} us")
    heading = f"{'mean us':>10}{'max us':>10}{'x baseline':>12}{'joserfc us':>12}{'ratio':>8}"
    print(f"{'operation':<22}{heading}")
    for op in dict.fromkeys(op for op, _ in totals):
        costs, before = totals[op, ENGINES[0]], statistics.fmean(totals[op, ENGINES[1]])
        mean = statistics.fmean(costs)
        print(
            f"{op:<22}{mean:>10.0f}{max(costs):>10.0f}{mean / baseline:>12.1f}"
            f"{before:>12.0f}{mean / before:>8.2f}"
        )
    print(f"({len(next(iter(totals.values())))} event types, {rounds} rounds x 5 batches each;")
    print(" ratio: on the primitives / on joserfc, each taken in turn)")


if __name__ == "__main__":
    main()

"""Cost per envelope operation, for each event type's sample and on average.

Run with ``make bench-envelope`` (or ``.venv/bin/python bench/envelope_ops.py [--rounds N]``).
Reports microseconds per operation and each operation's cost as a ratio to one
Ed25519 JWS sign-and-verify of the same claims measured in the same run, so the
numbers compare across machines. It asserts nothing about time.
"""

from __future__ import annotations

import argparse
import statistics
import uuid
from functools import partial
from typing import TYPE_CHECKING

from bench.hub_vs_raw.budget import per_call_us, reference_jws
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
    totals: dict[str, list[float]] = {}
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
            totals.setdefault(op, []).append(per_call_us(call, rounds))
    print(f"baseline: one Ed25519 JWS sign+verify = {baseline:.0f} us")
    print(f"{'operation':<22}{'mean us':>10}{'max us':>10}{'x baseline':>12}")
    for op, costs in totals.items():
        mean = statistics.fmean(costs)
        print(f"{op:<22}{mean:>10.0f}{max(costs):>10.0f}{mean / baseline:>12.1f}")
    print(f"({len(next(iter(totals.values())))} event types, {rounds} rounds x 5 batches each)")


if __name__ == "__main__":
    main()

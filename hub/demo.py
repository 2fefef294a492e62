"""`hub demo`: a fictional event walks through the envelope, publisher to recipients.

It makes throwaway keys for the hub and four agencies, issues a fictional victim
safety plan as the advocacy service, opens it as the hub, presents it to each
other agency with the groups named below, and verifies each delivery as its
recipient would. The groups shown are an illustration of ARCHITECTURE section 4's
default matrix; the agreements and decision engine that set them for real live in
``hub.policy``. No network, no broker, nothing written outside a temporary folder.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from hub.crypto.envelope import DecisionHeader, issue_event, open_delivery, open_ingress, present
from hub.crypto.keys import KeyDirectory, generate_party_keys
from schemas.base import FieldGroup
from schemas.samples import sample_event

if TYPE_CHECKING:
    from collections.abc import Callable

G = FieldGroup
#: Groups each recipient gets of a victim safety plan in this walk-through.
ILLUSTRATIVE_GRANTS = {
    "police": frozenset(G) - {G.D},
    "probation": frozenset({G.A, G.B, G.C, G.E, G.F}),
    "health": frozenset({G.A, G.E}),
}


def run(say: Callable[[str], object]) -> int:
    """Run the walk-through, writing lines with ``say``; return the exit status."""
    rings = {
        p: generate_party_keys(p) for p in ("hub", "police", "probation", "health", "advocacy")
    }
    directory = KeyDirectory.of(*rings.values())
    event = sample_event("VictimSafetyPlanUpdated")
    envelope = issue_event(event, rings[event.author_agency], directory)
    say(
        f"{event.author_agency} issued {event.event_type} {event.event_id}"
        f" ({len(envelope)} chars, sealed to hub)"
    )
    issuance = open_ingress(envelope, rings["hub"], directory)
    present_groups = ",".join(sorted(issuance.groups))
    say(f"hub opened it: signature, digests and keys verified; groups {present_groups}")
    for recipient, grant in ILLUSTRATIVE_GRANTS.items():
        granted = grant & set(issuance.groups)
        decision = DecisionHeader(uuid.uuid4(), "demo-agreement", 1, recipient)
        sealed = present(issuance, granted, decision, rings["hub"], directory)
        delivery = open_delivery(sealed, rings[recipient], directory)
        got = ",".join(sorted(delivery.groups)) or "-"
        withheld = ",".join(sorted(set(issuance.groups) - set(delivery.groups))) or "-"
        say(f"  -> {recipient:<10} received {got:<16} withheld {withheld:<8} verified end to end")
    say("envelope walk-through complete: every delivery verified by its recipient")
    return 0

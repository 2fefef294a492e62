"""The benchmark's fictional deployment: parties, keys, a policy for K recipients, events.

Everything here is made up and says so: a sender ``bench-sender`` and recipients
``bench-r1`` to ``bench-r6`` of kind ``other``, one agreement granting a management
plan's groups to exactly K of them, and management plans whose free text is
filler. The policy is written as TOML and read back with the hub's own loader,
so it is validated exactly like a deployment's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from hub.crypto.envelope import issue_event
from hub.crypto.keys import KeyDirectory, generate_party_keys, save_keyring
from hub.policy.load import load_policy
from schemas.base import new_event_id
from schemas.samples import sample_event

if TYPE_CHECKING:
    from pathlib import Path

    from hub.crypto.keys import PartyKeyring
    from hub.policy.load import Policy
    from schemas.base import CaseEvent

SENDER: Final = "bench-sender"
MAX_RECIPIENTS: Final = 6
EVENT_TYPE: Final = "ManagementPlanAgreed"
#: Every group a management plan carries; the agreement grants them all.
GROUPS: Final = ("A", "B", "C", "D", "E", "H")
_OBJECTIVES_MAX: Final = 4000
_ACTION_MAX: Final = 300
_ACTIONS_PER_LIST: Final = 20
_ACTION_LISTS: Final = (
    "supervision",
    "monitoring_and_control",
    "interventions_and_treatment",
    "victim_safety_planning",
)
_FILLER: Final = "Fictional benchmark filler text, no real case. "


def recipients(count: int) -> tuple[str, ...]:
    """The first ``count`` fictional recipients, ``bench-r1``...

    Raises:
        ValueError: ``count`` is not 1 to :data:`MAX_RECIPIENTS`.
    """
    if not 1 <= count <= MAX_RECIPIENTS:
        raise ValueError(f"recipients must be 1 to {MAX_RECIPIENTS}")
    return tuple(f"bench-r{i}" for i in range(1, count + 1))


def all_parties() -> tuple[str, ...]:
    """The sender and every recipient (not the hub)."""
    return (SENDER, *recipients(MAX_RECIPIENTS))


@dataclass(frozen=True)
class Keys:
    """Every party's private keyring and the public directory, also written to ``folder``."""

    rings: dict[str, PartyKeyring]
    directory: KeyDirectory
    folder: Path


def make_keys(folder: Path) -> Keys:
    """Generate keys for the hub and every bench party, valid from an hour ago."""
    start = datetime.now(UTC) - timedelta(hours=1)
    rings = {p: generate_party_keys(p, start) for p in ("hub", *all_parties())}
    for ring in rings.values():
        save_keyring(ring, folder)
    return Keys(rings, KeyDirectory.of(*rings.values()), folder)


def _party_toml(party: str, kind: str, name: str) -> str:
    return f'[[party]]\nid = "{party}"\nname = "{name}"\nkind = "{kind}"\n'


def _parties_toml() -> str:
    blocks = [_party_toml("hub", "hub", "Benchmark Hub (fictional)")]
    blocks.append(_party_toml(SENDER, "other", "Benchmark Sender (fictional)"))
    blocks.extend(
        _party_toml(r, "other", f"Benchmark Recipient {r[-1]} (fictional)")
        for r in recipients(MAX_RECIPIENTS)
    )
    return "# Fictional parties of the benchmark.\n\n" + "\n".join(blocks)


def _clause_toml(recipient: str) -> str:
    groups = ", ".join(f'"{g}"' for g in GROUPS)
    return (
        f'[[clauses]]\nid = "bench-to-{recipient}"\nprovider = "{SENDER}"\n'
        f'recipient = "{recipient}"\nevent_types = ["{EVENT_TYPE}"]\ngroups = [{groups}]\n'
        'purpose = "benchmark"\n'
        'lawful_basis = { regime = "dpa2018_part3", schedule8 = "para 4" }\n'
        'gateway = "Fictional benchmark gateway"\nvalid_from = 2026-01-01\n'
        "valid_until = 2099-12-31\nreview_date = 2098-01-01\n"
        'retention = { months = 1, disposal = "deleted after the benchmark" }\n'
    )


def _agreement_toml(count: int) -> str:
    parties = (SENDER, *recipients(count))
    head = (
        "# A fictional agreement for the benchmark only.\n"
        'kind = "information-sharing-agreement"\nid = "bench-fictional"\nversion = 1\n'
        'title = "Benchmark agreement (fictional)"\nstatus = "active"\n'
        'dpia_reference = "DPIA-BENCH-FICTIONAL"\nvalid_from = 2026-01-01\n'
        "valid_until = 2099-12-31\nreview_date = 2098-01-01\n\n"
        '[[purposes]]\nid = "benchmark"\ndescription = "Measure the hub (fictional)."\n\n'
    )
    members = "".join(
        f'[[parties]]\nparty = "{p}"\norganisation = "Bench {p} (fictional)"\n'
        'role = "competent_authority"\n\n'
        for p in parties
    )
    signatories = "".join(
        f'[[signatories]]\nparty = "{p}"\nname = "Nobody (fictional)"\n'
        'position = "Benchmark"\nsigned_on = 2026-01-01\n\n'
        for p in parties
    )
    clauses = "\n".join(_clause_toml(r) for r in recipients(count))
    return head + members + signatories + clauses


def write_policy(folder: Path, count: int, rules_source: Path) -> Policy:
    """Write a policy granting every group to exactly ``count`` recipients; load it back.

    The deployment's safety rules (``rules_source``) are kept: they match no bench
    party, yet the hub evaluates them for every recipient as it would in service.
    """
    (folder / "agreements").mkdir(parents=True, exist_ok=True)
    (folder / "agreements" / "bench.toml").write_text(_agreement_toml(count))
    (folder / "parties.toml").write_text(_parties_toml())
    (folder / "rules.toml").write_text(rules_source.read_text())
    return load_policy(folder / "agreements", folder / "parties.toml", folder / "rules.toml")


def _base_event() -> CaseEvent:
    sample = sample_event(EVENT_TYPE)
    lists: dict[str, Any] = dict.fromkeys(_ACTION_LISTS, ())
    return sample.model_copy(
        update={"author_agency": SENDER, "objectives": "Fictional benchmark plan.", **lists}
    )


def _filler(length: int) -> str:
    return (_FILLER * (length // len(_FILLER) + 1))[:length].rstrip() or "x"


def padded_event(extra: int) -> CaseEvent:
    """A fictional management plan with about ``extra`` more characters of free text.

    The objectives take the first 4000, then agreed actions of up to 300 characters
    fill the four action lists in turn (the schema's limits).
    """
    base = _base_event()
    data = base.model_dump(mode="json")
    objectives = f"{data['objectives']} {_filler(extra)}"[:_OBJECTIVES_MAX].strip()
    left = max(0, extra - (len(objectives) - len(data["objectives"])))
    lists: dict[str, list[dict[str, Any]]] = {name: [] for name in _ACTION_LISTS}
    index = 0
    while left > 0 and index < _ACTIONS_PER_LIST * len(_ACTION_LISTS):
        text = _filler(min(left, _ACTION_MAX))
        lists[_ACTION_LISTS[index % len(_ACTION_LISTS)]].append(
            {"action": text, "owner": SENDER, "status": "planned"}
        )
        left -= len(text) + 60  # the JSON around one action
        index += 1
    data |= {"objectives": objectives, **lists}
    return type(base).model_validate_json(json.dumps(data))


def event_json_bytes(event: CaseEvent) -> int:
    """The size of the event's JSON, the content an agency publishes."""
    return len(event.model_dump_json().encode())


def event_of_size(target: int) -> CaseEvent:
    """A fictional event whose JSON is close to ``target`` bytes (never much below)."""
    extra = max(0, target - event_json_bytes(_base_event()))
    event = padded_event(extra)
    for _ in range(6):  # a few corrections; the JSON around the text is not linear
        gap = target - event_json_bytes(event)
        if abs(gap) <= target // 100:
            break
        extra = max(0, extra + gap)
        event = padded_event(extra)
    return event


def fresh(event: CaseEvent) -> CaseEvent:
    """The same content under a new event id."""
    return event.model_copy(update={"event_id": new_event_id()})


def envelope_bytes(event: CaseEvent, keys: Keys) -> bytes:
    """The compact JWE the sender would publish for ``event``."""
    return issue_event(fresh(event), keys.rings[SENDER], keys.directory).encode("ascii")

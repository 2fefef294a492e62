"""Release notices: what the evaluator let out, recorded in each area hub's ledger."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from feeding import EVALUATOR
from verifier import load_script

from hub.broker import OutgoingMessage, next_delivery
from hub.crypto import seal_release
from hub.ledger.verify import verify_entries
from hub.pipeline import process

if TYPE_CHECKING:
    from feeding import Feeding

    from hub.crypto import PartyKeyring

SCRIPT = load_script()


def _release(**changes: Any) -> dict[str, Any]:
    return {
        "release_id": str(uuid.uuid4()),
        "as_of": "2026-11-30",
        "tables": ["reoffending", "cohort_by_priority"],
        "mechanism": "suppression",
        "rule": "opensafely",
        "threshold": 7,
        "rounding": 5,
        "epsilon": None,
        "spent": None,
        "budget": None,
        "output_sha256": "ab" * 32,
    } | changes


async def _announce(
    feeding: Feeding, release: dict[str, Any], signer: str = EVALUATOR, user: str | None = None
) -> str:
    """Publish ``release`` signed by ``signer`` over ``user``'s connection; process it."""
    keyring: PartyKeyring = feeding.keyrings[signer]
    body = seal_release(release, datetime.now(UTC), keyring, feeding.ctx.directory, "hub")
    sender = user or signer
    names = feeding.ctx.names
    message = OutgoingMessage(
        names.ingress, sender, body.encode(), str(uuid.uuid4()), user_id=sender,
        headers={"kind": "evaluation-release"},
    )  # fmt: skip
    await feeding.parties[sender].publish(message)
    async with feeding.ctx.broker.consume(names.ingress_queue, 1) as consumer:
        return await process(feeding.ctx, await next_delivery(consumer))


PRIVATE = {"mechanism": "laplace", "threshold": None, "rounding": None,
           "epsilon": "1", "spent": "2", "budget": "3"}  # fmt: skip


@pytest.mark.parametrize("changes", [{}, PRIVATE], ids=["suppression", "laplace"])
async def test_a_release_is_recorded_once_and_verifies(
    feeding: Feeding, changes: dict[str, Any]
) -> None:
    """The entry holds what was released; a second notice of it adds nothing."""
    release = _release(**changes)
    assert await _announce(feeding, release) == "released"
    assert await _announce(feeding, release) == "released"
    [entry] = await feeding.ctx.ledger.read()
    assert (entry.kind, entry.outcome, entry.provider) == ("release", "released", EVALUATOR)
    assert entry.release is not None
    assert entry.release.model_dump(mode="json") == release | {"tables": sorted(release["tables"])}
    checkpoint = await feeding.ctx.ledger.checkpoint_now()
    assert checkpoint is not None
    assert verify_entries([entry], [checkpoint.token], feeding.ctx.directory).intact
    assert SCRIPT.valid_entry(entry.model_dump(mode="json", exclude={"entry_hash"}))


async def test_other_figures_under_a_used_release_id_are_refused(feeding: Feeding) -> None:
    """A release id names one output: announcing another under it is a replay."""
    release = _release()
    assert await _announce(feeding, release) == "released"
    other = release | {"output_sha256": "cd" * 32}
    assert await _announce(feeding, other) == "event.replayed"
    releases = [e for e in await feeding.ctx.ledger.read() if e.kind == "release"]
    assert [e.release.output_sha256 for e in releases if e.release] == ["ab" * 32]


@pytest.mark.parametrize(
    ("signer", "user", "changes", "code"),
    [
        ("police", None, {}, "sender.not_entitled"),
        (EVALUATOR, "police", {}, "sender.mismatch"),
        (EVALUATOR, None, {"mechanism": "laplace"}, "schema.invalid"),
        (EVALUATOR, None, {"tables": []}, "schema.invalid"),
        (EVALUATOR, None, {"output_sha256": "not a hash"}, "schema.invalid"),
    ],
)
async def test_a_notice_that_fails_a_check_is_refused_and_recorded(
    feeding: Feeding, signer: str, user: str | None, changes: dict[str, Any], code: str
) -> None:
    """An agency, a borrowed connection, or a malformed release: refused, never a release."""
    assert await _announce(feeding, _release(**changes), signer, user) == code
    [entry] = await feeding.ctx.ledger.read()
    assert (entry.kind, entry.reason_code) == ("refusal", code)


async def test_a_hub_that_feeds_no_evaluation_records_no_release(feeding: Feeding) -> None:
    """Without the feed's settings the evaluator is entitled to nothing here."""
    feeding.ctx = replace(feeding.ctx, evaluation=None)
    assert await _announce(feeding, _release()) == "sender.not_entitled"
    assert [e.kind for e in await feeding.ctx.ledger.read()] == ["refusal"]

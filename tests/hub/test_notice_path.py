"""A refused event's notice names where it fails, by the schema's own names, never the value."""

from __future__ import annotations

import base64
import json
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import forge
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import event_data

from hub.broker.base import OutgoingMessage
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.crypto.base import NOTICE_CTY
from hub.crypto.jwe import unseal
from hub.crypto.notice import FIELD_POINTER, open_notice
from hub.embedded import embedded_hub
from hub.events import FieldAt, field_of
from hub.pipeline import process
from schemas.base import CaseEvent
from schemas.errors import SchemaError, SchemaErrorCode
from schemas.registry import CATALOGUE, parse_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from hub.context import HubContext
    from hub.crypto.keys import PartyKeyring

#: What a sender might have written into a field: it must never come back.
PERSONAL = "Alex Example, 1 Example Street"
#: A key a sender made up that could itself be personal data (snake_case, as field names are).
MADE_UP_KEY = "alex_example_lives_at_1_example_street"


def _problem(data: dict[str, Any]) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        parse_event(data)
    return caught.value


def _field(data: dict[str, Any]) -> FieldAt | None:
    return field_of(_problem(data), data["event_type"], data["schema_version"])


def _sample(event_type: str) -> dict[str, Any]:
    data = forge.fresh(event_type).model_dump(mode="json")
    assert isinstance(data, dict)
    return data


def test_a_bad_optional_field_is_named_by_its_pointer() -> None:
    """An optional text that breaks its pattern is named ``/order/court``, not quoted."""
    data = _sample("OrderEvent")
    data["order"]["court"] = PERSONAL + "\n"
    assert _field(data) == FieldAt("/order/court", "string_pattern_mismatch")


def test_a_union_tag_is_passed_over() -> None:
    """A location through a tagged union (``geometry.circle``) drops the tag, no key of the JSON."""
    data = _sample("OrderEvent")
    data["exclusion_zones"][0]["geometry"]["radius_metres"] = 1
    assert _field(data) == FieldAt(
        "/exclusion_zones/0/geometry/radius_metres", "greater_than_equal"
    )


def test_a_made_up_key_is_never_named() -> None:
    """An unknown key stops the pointer at the object that holds it: ``/order/terms/0``."""
    data = _sample("OrderEvent")
    data["order"]["terms"][0][MADE_UP_KEY] = PERSONAL
    assert _field(data) == FieldAt("/order/terms/0", "extra_forbidden")
    top = _sample("OrderEvent") | {MADE_UP_KEY: PERSONAL}
    assert _field(top) == FieldAt("", "extra_forbidden")


def test_a_rule_over_the_whole_event_points_at_the_whole_event() -> None:
    """``recorded_at`` before ``occurred_at`` is a rule of the event: the pointer is ``""``."""
    data = _sample("ReferralReceived") | {
        "occurred_at": "2026-01-02T10:00:00Z",
        "recorded_at": "2026-01-01T10:00:00Z",
    }
    assert _field(data) == FieldAt("", "recorded_before_occurred")


def test_an_error_without_problems_names_no_field() -> None:
    """A missing group names no field, nor does a problem of a version not catalogued."""
    missing = SchemaError(SchemaErrorCode.INVALID, "the event lacks its group(s) G")
    assert field_of(missing, "OrderEvent", 1) is None
    spoiled = _sample("OrderEvent") | {MADE_UP_KEY: PERSONAL}
    assert field_of(_problem(spoiled), "OrderEvent", 99) is None


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths of every scalar (and every object, where a key can be added) in ``value``."""
    if isinstance(value, dict):
        inner = [p for k, v in value.items() for p in _leaves(v, (*path, k))]
        return [(*path, "{}"), *inner]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, str(i)))]
    return [path]


def _spoil(data: dict[str, Any], path: tuple[str, ...]) -> tuple[str, ...]:
    """Put personal text where nothing may hold a list, or a made-up key into an object."""
    *parents, last = path
    node: Any = data
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node[step]
    if last == "{}":
        node[MADE_UP_KEY] = PERSONAL
        return tuple(parents)
    node[int(last) if isinstance(node, list) else last] = [PERSONAL]
    return path


KEYS = sorted(CATALOGUE)


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_a_pointer_names_the_spoiled_place_or_an_ancestor_and_nothing_sent(
    data: st.DataObject,
) -> None:
    """Wherever an event is spoiled, the pointer leads there (or above) in schema names only."""
    event_type, version = data.draw(st.sampled_from(KEYS))
    event = data.draw(event_data(event_type, version))
    places = [p for p in _leaves(event) if p and p[0] not in CaseEvent.ENVELOPE_CLAIMS]
    spoiled = _spoil(event, data.draw(st.sampled_from(places)))
    found = field_of(_problem(event), event_type, version)
    assert found is not None
    assert FIELD_POINTER.fullmatch(found.pointer)
    steps = tuple(found.pointer.split("/")[1:]) if found.pointer else ()
    # The spoiled place or above; or, where the list put there is allowed but its item
    # is not, that item: below it by an index only, never by a name the sender chose.
    below = steps[: len(spoiled)] == spoiled and all(s.isdigit() for s in steps[len(spoiled) :])
    assert spoiled[: len(steps)] == steps or below, (steps, spoiled)
    assert "alex" not in found.pointer
    assert "example" not in found.pointer


@pytest.fixture
async def hub(
    tmp_path: Path, keyrings: dict[str, PartyKeyring]
) -> AsyncIterator[tuple[HubContext, forge.World, MemoryNode]]:
    """An embedded hub on a memory node, with forge's world of keys."""
    world = forge.make_world(keyrings)
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, world.keyrings["hub"], world.directory, node)
        yield ctx, world, node


async def _refused(
    ctx: HubContext, world: forge.World, node: MemoryNode, body: bytes, message_id: str
) -> tuple[str, str]:
    """Send ``body`` as police; return the refusal code and the police notice's raw claims."""
    async with MemoryBroker(node, user="police") as police:
        await police.publish(
            OutgoingMessage(ctx.names.ingress, "police", body, message_id, user_id="police")
        )
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as consumer:
        code = await process(ctx, await next_delivery(consumer))
    async with ctx.broker.consume(ctx.names.inbox("police"), 1) as consumer:
        notice = await next_delivery(consumer)
        await notice.ack()
    _, token = unseal(notice.body.decode(), world.keyrings["police"], datetime.now(UTC), NOTICE_CTY)
    payload = token.split(".")[1]
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    return code, claims


async def test_the_senders_notice_names_the_path_and_not_the_value(
    hub: tuple[HubContext, forge.World, MemoryNode],
) -> None:
    """An order whose optional court holds a line break: the notice says ``/order/court``."""
    ctx, world, node = hub
    event = forge.fresh("OrderEvent")
    groups = forge.groups_of(event)
    groups["B"]["order"]["court"] = PERSONAL + "\n"
    body = forge.regroup(world, event, groups)
    code, raw = await _refused(ctx, world, node, body, str(event.event_id))
    assert code == "schema.invalid"
    claims = json.loads(raw)
    assert (claims["field"], claims["field_error"]) == ("/order/court", "string_pattern_mismatch")
    assert "Example" not in raw
    [entry] = await ctx.ledger.read()
    assert entry.reason_code == "schema.invalid"


async def test_a_made_up_key_in_a_group_is_not_echoed_to_the_sender(
    hub: tuple[HubContext, forge.World, MemoryNode],
) -> None:
    """A key the event type does not have, put in group B: the notice names the event, not it."""
    ctx, world, node = hub
    event = forge.fresh("OrderEvent")
    groups = forge.groups_of(event)
    groups["B"][MADE_UP_KEY] = PERSONAL
    body = forge.regroup(world, event, groups)
    code, raw = await _refused(ctx, world, node, body, str(event.event_id))
    assert code == "schema.invalid"
    assert (json.loads(raw)["field"], json.loads(raw)["field_error"]) == ("", "extra_forbidden")
    assert "alex" not in raw.lower()


async def test_a_refusal_that_is_not_about_a_field_names_none(
    hub: tuple[HubContext, forge.World, MemoryNode],
) -> None:
    """Garbage bytes: the notice's field and field_error are null, and the notice still opens."""
    ctx, world, node = hub
    code, raw = await _refused(ctx, world, node, b"not a jwe", forge.new_id())
    assert code == "envelope.malformed"
    assert (json.loads(raw)["field"], json.loads(raw)["field_error"]) == (None, None)


async def test_an_opened_notice_carries_the_field(
    hub: tuple[HubContext, forge.World, MemoryNode],
) -> None:
    """``open_notice`` gives the sender the pointer and the error type."""
    ctx, world, node = hub
    event = forge.fresh("OrderEvent")
    groups = forge.groups_of(event)
    groups["G"]["exclusion_zones"][0]["geometry"]["radius_metres"] = 1
    body = forge.regroup(world, event, groups)
    async with MemoryBroker(node, user="police") as police:
        await police.publish(
            OutgoingMessage(
                ctx.names.ingress, "police", body, str(event.event_id), user_id="police"
            )
        )
    async with ctx.broker.consume(ctx.names.ingress_queue, 1) as consumer:
        assert await process(ctx, await next_delivery(consumer)) == "schema.invalid"
    async with ctx.broker.consume(ctx.names.inbox("police"), 1) as consumer:
        message = await next_delivery(consumer)
    opened = open_notice(message.body.decode(), world.keyrings["police"], world.directory)
    assert (opened.field, opened.field_error) == (
        "/exclusion_zones/0/geometry/radius_metres",
        "greater_than_equal",
    )
    assert opened.event_id == event.event_id

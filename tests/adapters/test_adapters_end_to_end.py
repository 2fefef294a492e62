"""Native records in one agency's format come out in another's, through the real hub."""

from __future__ import annotations

import json
import shutil
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapters.client import AgencyClient
from adapters.registry import translator_for
from adapters.runner import AdapterSettings, deliver, publish_record
from hub.broker.memory import MemoryBroker, MemoryNode
from hub.broker.testing import next_delivery
from hub.crypto import compact, sdjwt
from hub.crypto.jwe import unseal
from hub.embedded import embedded_hub
from hub.pipeline import process

if TYPE_CHECKING:
    from hub.crypto.keys import KeyDirectory, PartyKeyring

SAMPLES = Path(__file__).resolve().parents[2] / "adapters"


@pytest.mark.parametrize(
    "sample", sorted((SAMPLES / "police" / "samples").glob("*.json")), ids=lambda p: p.stem
)
async def test_police_record_reaches_probation_natively(
    sample: Path, tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """Each police sample, dropped as a file, comes out as HMPPS-style messages at probation."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        police = await stack.enter_async_context(
            AgencyClient(
                keyrings["police"], directory, MemoryBroker(node, user="police"), tmp_path / "p.db"
            )
        )
        probation = await stack.enter_async_context(
            AgencyClient(
                keyrings["probation"],
                directory,
                MemoryBroker(node, user="probation"),
                tmp_path / "r.db",
            )
        )
        inbox = tmp_path / "in"
        inbox.mkdir()
        shutil.copy(sample, inbox / sample.name)
        count = await publish_record(police, translator_for("police"), inbox / sample.name)
        assert count >= 1
        async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
            for _ in range(count):
                assert await process(ctx, await next_delivery(ingress)) == "disclosed"
        settings = AdapterSettings(
            keys_dir=tmp_path,
            private_keys=tmp_path / "k",
            state_file=tmp_path / "s",
            output_dir=tmp_path / "out",
        )
        received = 0
        async for delivery in probation.deliveries():
            await deliver(delivery, translator_for("probation"), settings, None)
            received += 1
            if received == count:
                break
    written = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    assert len(written) == count
    assert all(message["eventType"].startswith("partnership-case.") for message in written)


LOCATION_STRINGS = ("1 Example Street", "ZZ1 1ZZ", "Example Works", "2 Sample Road", "ZZ1 2ZZ",
                    "Exampletown Leisure Centre", "07700 900123", "Alex")  # fmt: skip


async def test_health_never_sees_the_safe_address(
    tmp_path: Path, keyrings: dict[str, PartyKeyring], directory: KeyDirectory
) -> None:
    """A safety plan reaches health as FHIR with no byte of address, routine or contact."""
    node = MemoryNode()
    async with AsyncExitStack() as stack:
        ctx = await embedded_hub(stack, tmp_path, keyrings["hub"], directory, node)
        advocacy = await stack.enter_async_context(
            AgencyClient(
                keyrings["advocacy"],
                directory,
                MemoryBroker(node, user="advocacy"),
                tmp_path / "a.db",
            )
        )
        inbox = tmp_path / "in"
        inbox.mkdir()
        shutil.copy(SAMPLES / "advocacy" / "samples" / "safety_plan.json", inbox / "plan.json")
        assert await publish_record(advocacy, translator_for("advocacy"), inbox / "plan.json") == 1
        async with ctx.broker.consume(ctx.names.ingress_queue, 1) as ingress:
            assert await process(ctx, await next_delivery(ingress)) == "disclosed"
        health_broker = await stack.enter_async_context(MemoryBroker(node, user="health"))
        async with health_broker.consume(ctx.names.inbox("health"), 10) as health_inbox:
            raw = await next_delivery(health_inbox)
            await raw.reject(requeue=True)
        _, plaintext = unseal(raw.body.decode(), keyrings["health"], datetime.now(UTC))
        health = await stack.enter_async_context(
            AgencyClient(keyrings["health"], directory, health_broker, tmp_path / "h.db")
        )
        settings = AdapterSettings(
            keys_dir=tmp_path,
            private_keys=tmp_path / "k",
            state_file=tmp_path / "s",
            output_dir=tmp_path / "out",
        )
        async for delivery in health.deliveries():
            await deliver(delivery, translator_for("health"), settings, None)
            break
    [written] = (tmp_path / "out").glob("*.json")
    produced = written.read_bytes()
    assert json.loads(produced)["resourceType"] == "Communication"
    decoded_disclosures = b"".join(
        compact.b64url_decode(d) for d in sdjwt.split_sd_jwt(plaintext)[1]
    )
    for secret in LOCATION_STRINGS:
        for blob in (raw.body, plaintext.encode(), decoded_disclosures, produced):
            assert secret.encode() not in blob

"""`hub demo`: colour and progress on a terminal, plain text when piped, and RabbitMQ too."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import aio_pika
import pytest
from aio_pika.exceptions import ChannelClosed
from rich.console import Console
from services import amqp_url

from hub.crypto import KeyDirectory, generate_party_keys
from hub.demo import CASE, DemoError, kept_settings, play, rabbitmq_site, run
from hub.embedded import embedded_settings

if TYPE_CHECKING:
    from pathlib import Path

ESCAPE = "\x1b["


def _steps(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:3].strip().rstrip(".").isdigit()]


def test_piped_output_is_plain_text() -> None:
    """Run as a command with its output piped, the timeline has no escape codes."""
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "NO_COLOR"}},
    )
    assert done.returncode == 0, done.stderr
    assert ESCAPE not in done.stdout
    assert len(_steps(done.stdout)) == len(CASE)
    # 31: 10 events disclosed to 3 recipients, 1 refusal; 4: a receipt from each agency.
    assert done.stdout.splitlines()[-1].startswith("ledger intact: 35 entries")
    assert _all_signed_for(done.stdout)


def test_a_terminal_gets_colour_and_a_progress_bar() -> None:
    """On a terminal the outcome is coloured and the progress bar names the steps."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, color_system="standard", width=160)
    assert run(console) == 0
    text = screen.getvalue()
    assert ESCAPE in text
    assert f"step {len(CASE)}: health" in text  # the progress bar's last description
    assert "\x1b[31m" in text or "\x1b[1;31m" in text  # the refusal, in red


def test_a_broker_url_that_is_not_amqp_is_refused_with_a_code() -> None:
    """A wrong ``--broker`` value is a clear error, never a traceback."""
    with pytest.raises(DemoError) as caught:
        run(Console(file=io.StringIO()), "http://127.0.0.1:15672/")
    assert caught.value.code == "demo.broker_url"


@pytest.mark.rabbitmq
def test_the_demo_case_runs_on_rabbitmq_and_leaves_nothing_behind() -> None:
    """The whole case runs on a real RabbitMQ and cleans up after itself.

    Every delivery and notice arrives, the ledger verifies, and the demo's queues
    are gone afterwards.
    """
    url = amqp_url()
    site = rabbitmq_site(url)
    screen = io.StringIO()
    assert play(Console(file=screen, width=200), site) == 0
    text = screen.getvalue()
    steps = _steps(text)
    assert len(steps) == len(CASE)
    assert " sender.not_entitled " in steps[-1]
    assert "health was told" in text
    assert "missing" not in text
    assert "RabbitMQ at 127.0.0.1" in text
    assert url.split("@")[0].split(":")[-1] not in text  # never the password
    # Receipts group as deliveries arrive: at least one per agency, never one short.
    entries = re.match(r"ledger intact: (\d+) entries", text.splitlines()[-1])
    assert entries is not None
    assert int(entries.group(1)) >= 31 + 4
    assert _all_signed_for(text)
    assert not asyncio.run(_queue_exists(url, site.names.ingress_queue))


def _all_signed_for(text: str) -> bool:
    """Every agency signed for every delivery it was made (the demo's receipts lines)."""
    signed = re.findall(r"^(\w+)\s+signed for (\d+) of (\d+) deliveries", text, re.MULTILINE)
    return len(signed) == 4 and all(got == owed != "0" for _, got, owed in signed)


async def _queue_exists(url: str, name: str) -> bool:
    async with await aio_pika.connect(url, timeout=5) as connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except ChannelClosed:
            return False
        return True


def test_a_kept_demo_needs_a_new_folder(tmp_path: Path) -> None:
    """``--keep`` into a folder that holds something is refused, naming the folder."""
    (tmp_path / "something").write_text("kept before")
    with pytest.raises(DemoError) as caught:
        run(Console(file=io.StringIO()), None, tmp_path)
    assert caught.value.code == "demo.folder_not_empty"
    assert str(tmp_path) in caught.value.detail
    assert [p.name for p in tmp_path.iterdir()] == ["something"]


def test_the_console_on_a_folder_without_a_kept_demo_says_what_to_run(tmp_path: Path) -> None:
    """``hub demo console DIR`` on a folder the demo never kept names the command to run first."""
    done = subprocess.run(  # noqa: S603 - our own command, a path of the test's
        [sys.executable, "-m", "hub.cli", "demo", "console", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error demo.not_kept: {tmp_path / 'hub.toml'} does not exist;"
        f" run `hub demo --keep {tmp_path}` first"
    )


def test_the_demo_never_takes_a_deployments_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HUB_LEDGER_URL`` and ``HUB_PRIVATE_KEYS`` of a deployment leave a kept demo alone."""
    kept = tmp_path / "demo"
    assert run(Console(file=io.StringIO()), None, kept) == 0
    monkeypatch.setenv("HUB_LEDGER_URL", "postgresql://hub@127.0.0.1:1/production")
    monkeypatch.setenv("HUB_PRIVATE_KEYS", str(tmp_path / "production.private.jwks.json"))
    settings = kept_settings(kept)
    assert settings.ledger_url.get_secret_value() == f"sqlite:///{(kept / 'ledger.db').resolve()}"
    assert settings.private_keys == (kept / "keys" / "hub.private.jwks.json").resolve()


def test_an_embedded_hub_never_takes_a_ledger_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings of the demo's and the tests' hub ignore ``HUB_LEDGER_URL``."""
    monkeypatch.setenv("HUB_LEDGER_URL", "postgresql://hub@127.0.0.1:1/production")
    hub = generate_party_keys("hub")
    settings = embedded_settings(tmp_path, hub, KeyDirectory.of(hub))
    assert settings.ledger_url.get_secret_value() == f"sqlite:///{tmp_path / 'ledger.db'}"

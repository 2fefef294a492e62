"""`hub console` as a process: HTTPS with `hub tls init` files, tokens from `hub tokens`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
HUB = [sys.executable, "-m", "hub.cli"]


async def _hub(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *HUB, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    return out.decode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _config(folder: Path) -> Path:
    keys = folder / "keys"
    for party in ("hub", "police", "probation", "health", "advocacy"):
        await _hub("keys", "init", "--party", party, "--out", str(keys))
    await _hub("keys", "ledger-key", "--out", str(keys / "ledger.key"))
    settings = {
        "party": "hub",
        "keys_dir": str(keys),
        "private_keys": str(keys / "hub.private.jwks.json"),
        "ledger_key_file": str(keys / "ledger.key"),
        "ledger_url": f"sqlite:///{folder / 'ledger.db'}",
        "broker_url": "memory://",
        "agreements_dir": str(DEPLOY / "agreements"),
        "parties_file": str(DEPLOY / "parties.toml"),
        "rules_file": str(DEPLOY / "rules.toml"),
    }
    path = folder / "hub.toml"
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    return path


async def test_the_console_serves_https_to_a_token_holder(tmp_path: Path) -> None:
    """Started as `hub console --tls-dir`, it answers an operator over HTTPS and no one else."""
    config = await _config(tmp_path)
    await _hub("tls", "init", "--out", str(tmp_path / "tls"))
    tokens = tmp_path / "tokens.json"
    operator = (await _hub("tokens", "create", "--role", "operator", "--name", "ops",
                           "--file", str(tokens))).splitlines()[0]  # fmt: skip
    port = _free_port()
    console = await asyncio.create_subprocess_exec(
        *HUB, "console", "--config", str(config), "--tokens", str(tokens),
        "--port", str(port), "--tls-dir", str(tmp_path / "tls"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
    )  # fmt: skip
    trust = ssl.create_default_context(cafile=str(tmp_path / "tls" / "ca.pem"))
    url = f"https://127.0.0.1:{port}/api/health"
    try:
        async with aiohttp.ClientSession() as session:
            status = await _first_answer(session, url, trust, operator)
            assert status == 200
            async with session.get(url, ssl=trust) as anonymous:
                assert anonymous.status == 401
                assert anonymous.headers["Strict-Transport-Security"] == "max-age=31536000"
                assert anonymous.headers["Server"] == "hub-console"
            try:
                async with session.get(f"http://127.0.0.1:{port}/api/health") as plain:
                    assert plain.status >= 400  # never a 2xx over plain HTTP
            except aiohttp.ClientError:
                pass  # refused outright: just as good
    finally:
        console.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(console.communicate(), 30)
    assert console.returncode == 0, err.decode()
    assert operator not in err.decode()


async def _first_answer(
    session: aiohttp.ClientSession, url: str, trust: ssl.SSLContext | None, token: str
) -> int:
    """The status of the first answer, retrying while the server starts (bounded)."""
    for _ in range(150):  # 15 s at most
        try:
            async with session.get(
                url,
                ssl=trust if trust is not None else True,
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                return response.status
        except aiohttp.ClientConnectorError:
            await asyncio.sleep(0.1)
    raise AssertionError("the console never answered")


async def test_hub_run_serves_the_console_beside_the_worker(tmp_path: Path) -> None:
    """`hub run --console-tokens` serves the worker's own metrics and readiness."""
    config = await _config(tmp_path)
    tokens = tmp_path / "tokens.json"
    operator = (await _hub("tokens", "create", "--role", "operator", "--name", "ops",
                           "--file", str(tokens))).splitlines()[0]  # fmt: skip
    port = _free_port()
    worker = await asyncio.create_subprocess_exec(
        *HUB, "run", "--config", str(config), "--console-tokens", str(tokens),
        "--console-port", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {operator}"}
    try:
        async with aiohttp.ClientSession() as session:
            assert await _first_answer(session, f"{base}/api/health", None, operator) == 200
            async with session.get(f"{base}/api/ready", headers=auth) as ready:
                assert (await ready.json())["checks"]["broker"]["ok"] is True
            async with session.get(f"{base}/metrics", headers=auth) as metrics:
                text = await metrics.text()
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(worker.communicate(), 30)
    assert worker.returncode == 0, err.decode()
    assert "hub_events_in_total 0.0" in text
    assert 'hub_key_expiry_seconds{party="police",use="sig"}' in text
    assert "worker.started" in err.decode()
    assert "heap.settled" in err.decode()  # the start-up heap is frozen out of collections
    assert operator not in err.decode()


async def test_plain_http_is_served_on_loopback_only(tmp_path: Path) -> None:
    """Without --tls-dir, any address but loopback is refused with a stable code."""
    config = await _config(tmp_path)
    tokens = tmp_path / "tokens.json"
    await _hub("tokens", "create", "--role", "operator", "--name", "ops", "--file", str(tokens))
    for command in (
        ["console", "--tokens", str(tokens), "--host", "0.0.0.0"],  # noqa: S104 - refused
        ["run", "--console-tokens", str(tokens), "--console-host", "0.0.0.0"],  # noqa: S104
    ):
        process = await asyncio.create_subprocess_exec(
            *HUB, *command, "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode != 0
        assert "console.tls_required" in err.decode()

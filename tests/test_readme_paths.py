"""The README's own commands, run as a newcomer runs them, on a copy of the checkout's deploy/."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HUB = (sys.executable, "-m", "hub.cli")
PARTIES = ("hub", "police", "probation", "health", "advocacy")


async def _hub(cwd: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *HUB, *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_a_hub_of_your_own_starts_on_the_example_settings(tmp_path: Path) -> None:
    """Keys as the README says; ``hub run`` on the example settings starts, and stops on TERM."""
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    shutil.copy(ROOT / "deploy" / "hub.example.toml", deploy)
    shutil.copytree(ROOT / "deploy" / "agreements", deploy / "agreements")
    for name in ("parties.toml", "rules.toml"):
        shutil.copy(ROOT / "deploy" / name, deploy)
    for party in PARTIES:
        await _hub(tmp_path, "keys", "init", "--party", party, "--out", "keys/")
    await _hub(tmp_path, "keys", "ledger-key", "--out", "keys/ledger.key")

    process = await asyncio.create_subprocess_exec(
        *HUB, "run", "--config", "deploy/hub.example.toml",
        cwd=tmp_path, env={**os.environ, "HUB_BROKER_URL": "memory://", "HUB_LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None  # the logs
    lines: list[str] = []
    async with asyncio.timeout(60):
        while not any('"worker.started"' in line for line in lines):
            line = await process.stderr.readline()
            assert line, f"hub run stopped: {lines}"
            lines.append(line.decode())
        process.send_signal(signal.SIGTERM)
        _, rest = await process.communicate()
    assert process.returncode == 0
    assert '"worker.stopped"' in rest.decode()

"""The hub asks its witnesses to cosign each new checkpoint note (C2SP tlog-witness; ADR 0026).

Every round (``witness_every_seconds``), the newest checkpoint note in the ledger
goes to every witness of the policy that has a URL and has not cosigned it yet,
with a consistency proof from the size that witness cosigned last (learnt from its
answers: a 409 names it). Cosignature lines that verify under the policy's key for
that witness are stored beside the note (``ledger_cosignatures``), and a note is
*witnessed* once they meet the quorum. Nothing waits on a witness: entries and
checkpoints are written as before, an unreachable witness is asked again next
round, and the age of the oldest checkpoint not yet witnessed is a metric an alert
fires on (``HubCheckpointUnwitnessed``). A witness that refuses a checkpoint the
hub signed (422: it does not extend what the witness cosigned) has seen a second
history: the refusal is counted, logged and shown on the console's ledger page.

One process asks (the console, which also samples the queues): several workers
asking at once would be harmless (a witness cosigns one of two racing requests and
tells the other its size) but wasteful.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from hub import safejson
from hub.crypto import NoteError, open_note
from hub.ledger import Cosignature, LedgerError, TreeTiles
from hub.logs import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.crypto import Witness, WitnessPolicy
    from hub.ledger import Ledger, StoredCheckpoint
    from hub.metrics import HubMetrics

_log = get_logger("hub.witnessing")
#: Seconds a witness has to answer one request.
ANSWER_SECONDS: Final = 10.0
#: Answers that mean a witness saw a history it will not cosign.
FORK_STATUSES: Final = frozenset({422})


@dataclass
class WitnessView:
    """What the hub knows of one witness, from its last answers.

    Attributes:
        name: the witness's name in the policy.
        cosigned_size: the size it cosigned last, as far as the hub has learnt.
        status: the last answer's HTTP status, or ``unreachable``.
        code: the witness's code for a refusal (``witness.inconsistent``...).
        answered_at: when it last answered (seconds since the epoch).
        refused_size: the size of the checkpoint it last refused (not a 409).
    """

    name: str
    cosigned_size: int = 0
    status: str = "not asked"
    code: str = ""
    answered_at: float | None = None
    refused_size: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The view for the console."""
        return {
            "name": self.name,
            "cosigned_size": self.cosigned_size,
            "status": self.status,
            "code": self.code,
            "answered_at": None if self.answered_at is None else int(self.answered_at),
            "refused_size": self.refused_size,
            "fork": self.status in {str(s) for s in FORK_STATUSES},
        }


@dataclass
class Witnessing:
    """Sends the newest checkpoint note to the policy's witnesses, and keeps their answers."""

    ledger: Ledger
    policy: WitnessPolicy
    metrics: HubMetrics
    clock: Callable[[], float] = time.time
    views: dict[str, WitnessView] = field(default_factory=dict)
    _tiles: TreeTiles | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """One view per witness of the policy; the tree's tiles, read as rounds need them."""
        for witness in self.policy.witnesses:
            self.views.setdefault(witness.name, WitnessView(witness.name))
        if self._tiles is None:
            self._tiles = TreeTiles(self.ledger.store)

    @property
    def tiles(self) -> TreeTiles:
        """The tree's tiles, for consistency proofs."""
        if self._tiles is None:
            raise RuntimeError("made in __post_init__")
        return self._tiles

    async def round(self) -> None:
        """Ask every witness with a URL to cosign the newest note, then refresh the gauges.

        Raises:
            LedgerError: the ledger cannot be read or written.
        """
        checkpoints = await self.ledger.store.checkpoints()
        noted = [c for c in checkpoints if c.note is not None]
        if noted:
            latest = noted[-1]
            await self.tiles.catch_up(latest.tree_size)
            asking = [w for w in self.policy.witnesses if w.url is not None]
            timeout = aiohttp.ClientTimeout(total=ANSWER_SECONDS)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                await asyncio.gather(*(self._ask(session, w, latest) for w in asking))
            checkpoints = await self.ledger.store.checkpoints()
        self.refresh(checkpoints)

    def refresh(self, checkpoints: list[StoredCheckpoint]) -> None:
        """Set the witnessed size and the age of the oldest checkpoint not yet witnessed.

        Read from the newest back to the first the quorum cosigned: a round checks
        the few waiting notes, not the ledger's whole history.
        """
        witnessed = next((c.tree_size for c in reversed(checkpoints) if self.witnessed(c)), 0)
        waiting = [c for c in checkpoints if c.note is not None and c.tree_size > witnessed]
        self.metrics.witnessed_size.set(witnessed)
        oldest = min((_signed_at(c.token) for c in waiting), default=None)
        age = 0.0 if oldest is None else max(0.0, self.clock() - oldest)
        self.metrics.unwitnessed_seconds.set(age)

    def witnessed(self, checkpoint: StoredCheckpoint) -> bool:
        """Whether the policy's quorum has cosigned ``checkpoint``'s note."""
        note = checkpoint.cosigned_note
        if note is None:
            return False
        signed_by = set(self._cosigners(note))
        return self.policy.satisfied(signed_by)

    def _cosigners(self, note: str) -> list[Any]:
        verifiers = self.policy.verifiers
        with contextlib.suppress(NoteError):
            return list(open_note(note, verifiers).signed_by)
        return []

    async def _ask(
        self, session: aiohttp.ClientSession, witness: Witness, latest: StoredCheckpoint
    ) -> None:
        view = self.views[witness.name]
        note = latest.cosigned_note or ""
        if witness.verifier in self._cosigners(note):
            view.cosigned_size = max(view.cosigned_size, latest.tree_size)
            return
        for _ in range(2):  # a 409 names the size to prove from: ask once more
            status, text = await self._post(session, witness, latest, view.cosigned_size)
            view.status, view.answered_at = status, self.clock()
            self.metrics.witness_answers.labels(witness=witness.name, status=status).inc()
            if status == "409":
                with contextlib.suppress(ValueError):
                    view.cosigned_size = int(text.strip())
                    continue
            if status == "200":
                await self._keep(witness, latest, text, view)
            elif status != "unreachable":
                self._refused(witness, latest, status, text, view)
            return

    async def _post(
        self,
        session: aiohttp.ClientSession,
        witness: Witness,
        latest: StoredCheckpoint,
        old: int,
    ) -> tuple[str, str]:
        size = latest.tree_size
        if old > size:
            return "ahead", f"witness.ahead: it cosigned {old}, beyond {size}"
        proof = await self.tiles.consistency_proof(old, size) if 0 < old < size else []
        lines = "".join(base64.b64encode(p).decode() + "\n" for p in proof)
        body = f"old {old}\n{lines}\n{latest.note}"
        try:
            async with session.post(f"{witness.url}/add-checkpoint", data=body.encode()) as answer:
                return str(answer.status), await answer.text()
        except (aiohttp.ClientError, TimeoutError, UnicodeDecodeError):
            _log.warning("ledger.witness_unreachable", party=witness.name, tree_size=size)
            return "unreachable", ""

    async def _keep(
        self, witness: Witness, latest: StoredCheckpoint, text: str, view: WitnessView
    ) -> None:
        """Store the lines of the witness's policy key that verify; others are ignored."""
        note = latest.note or ""
        kept = []
        for line in text.splitlines():
            with contextlib.suppress(NoteError):
                opened = open_note(note + line + "\n", [witness.verifier])
                if witness.verifier in opened.signed_by:
                    kept.append(
                        Cosignature(witness.verifier.name, witness.verifier.id, line + "\n")
                    )
        if not kept:
            self._refused(witness, latest, "200", "witness.no_cosignature: none verified", view)
            return
        await self.ledger.add_cosignatures(latest.tree_size, kept)
        view.cosigned_size, view.code, view.refused_size = latest.tree_size, "", None
        _log.info("ledger.witnessed", party=witness.name, tree_size=latest.tree_size)

    def _refused(
        self, witness: Witness, latest: StoredCheckpoint, status: str, text: str, view: WitnessView
    ) -> None:
        code = text.split(":", 1)[0].strip() if text else ""
        view.code = code if code.startswith("witness.") else ""
        view.refused_size = latest.tree_size
        log = _log.error if status in {str(s) for s in FORK_STATUSES} else _log.warning
        log(
            "ledger.witness_refused",
            party=witness.name,
            status=status,
            code=view.code,
            tree_size=latest.tree_size,
        )


def _signed_at(token: str) -> float:
    """The ``time`` a checkpoint's JWS claims (the hub wrote it; read unverified for an age)."""
    try:
        payload = token.split(".")[1]
        claims = safejson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["time"])
    except (IndexError, ValueError, binascii.Error, KeyError, TypeError):
        return 0.0


async def keep_witnessing(witnessing: Witnessing, every: float) -> None:
    """Run a round every ``every`` seconds until cancelled; a failed round is logged."""
    while True:
        try:
            await witnessing.round()
        except LedgerError as error:
            _log.warning("ledger.witnessing_failed", code=error.code.value)
        await asyncio.sleep(every)

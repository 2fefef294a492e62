"""``hub witness``: a C2SP tlog-witness that cosigns a hub's checkpoints for a partner agency.

``POST /add-checkpoint`` takes an old size line, a consistency proof (one base64
hash a line) and a blank line, then a checkpoint note. The witness checks, in the
spec's order, and answers:

=====  ====================================================================
200    its cosignature lines, after the new size is on disk
400    a malformed request, or an old size above the checkpoint's
403    no signature of a trusted key of the log, or one that fails
404    a log (origin) it does not follow
409    the old size is not the size it cosigned last (body: that size,
       ``text/x.tlog.size``)
422    a consistency proof that fails, one size with two roots, a proof
       where none belongs, or an empty tree with another root
=====  ====================================================================

A checkpoint the log signed that does not extend what was cosigned (a fork, or a
tree that shrank) is kept as evidence and counted in ``hub_witness_evidence``;
``GET /`` shows it to the agency's IG officer and ``GET /status`` gives it as
JSON. ``GET /<SHA-256 of the origin, hex>/checkpoint`` serves the newest cosigned
checkpoint with the log's signature and the witness's cosignatures, for monitors
and auditors (``verify_ledger.py --checkpoint``). Error bodies are one line, a
stable code and a reason; no request content is echoed or logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hub.crypto import Checkpoint, NoteError, open_note
from hub.errors import HubError
from hub.ledger import verify_consistency
from hub.logs import get_logger
from hub.witness.state import Cosigned, Evidence, WitnessState

if TYPE_CHECKING:
    from hub.crypto import NoteVerifier
    from hub.witness.config import WitnessConfig

_log = get_logger("hub.witness")
#: A request holds a note (at most 1 MiB) and 63 proof lines; more is refused unread.
MAX_REQUEST_BYTES: Final = 64 * 1024
MAX_PROOF_LINES: Final = 63
_OLD: Final = re.compile(r"^old (0|[1-9][0-9]{0,19})$")
_EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
SIZE_TYPE: Final = "text/x.tlog.size"


class CheckpointRefusedError(HubError):
    """An answer other than 200: its HTTP status, a stable code and a reason."""

    def __init__(
        self, status: int, code: str, reason: str, body: str | None = None, cosigned: int = 0
    ) -> None:
        """Describe the answer; ``body`` replaces the code line (a 409's size).

        ``cosigned`` is the size the witness had cosigned, for evidence.
        """
        super().__init__(code, reason)
        self.status, self.reason, self.body, self.cosigned = status, reason, body, cosigned


@dataclass(frozen=True)
class Request:
    """A parsed ``add-checkpoint`` request."""

    old: int
    proof: tuple[bytes, ...]
    note: str
    checkpoint: Checkpoint


def parse_request(body: bytes) -> Request:
    """Read an ``add-checkpoint`` body.

    Raises:
        CheckpointRefusedError: 400 ``witness.malformed``.
    """
    malformed = CheckpointRefusedError(400, "witness.malformed", "not an add-checkpoint request")
    try:
        text = body.decode("utf-8")
        head, separator, note = text.partition("\n\n")
        lines = head.split("\n")
        proof = tuple(base64.b64decode(line, validate=True) for line in lines[1:])
        checkpoint = Checkpoint.parse(note[: note.rindex("\n\n") + 1])
    except (UnicodeDecodeError, ValueError, binascii.Error, NoteError):
        raise malformed from None
    match = _OLD.fullmatch(lines[0])
    if not separator or match is None or len(proof) > MAX_PROOF_LINES:
        raise malformed
    if any(len(p) != len(_EMPTY_ROOT) for p in proof):
        raise malformed
    return Request(int(match.group(1)), proof, note, checkpoint)


class Witness:
    """The witness's logic over its state: check a request, cosign, keep evidence."""

    def __init__(self, config: WitnessConfig, state: WitnessState) -> None:
        """Serve ``config``'s logs with ``config``'s keys, remembering in ``state``."""
        self.config = config
        self.state = state
        self.registry = CollectorRegistry()
        self.answers = Counter(
            "hub_witness_answers", "add-checkpoint answers", ["status"], registry=self.registry
        )
        self.evidence = Gauge(
            "hub_witness_evidence",
            "Checkpoints signed by a log that do not extend what was cosigned",
            registry=self.registry,
        )
        self.evidence.set(len(state.evidence()))

    def add_checkpoint(self, body: bytes) -> str:
        """Check one request; return the cosignature lines once the new size is stored.

        Raises:
            CheckpointRefusedError: every answer but 200.
        """
        request = parse_request(body)
        checkpoint = request.checkpoint
        trusted = self.config.logs.get(checkpoint.origin)
        if trusted is None:
            raise CheckpointRefusedError(
                404, "witness.unknown_log", "this witness does not follow that log"
            )
        try:
            opened = open_note(request.note, trusted)
        except NoteError as error:
            if error.code == "note.malformed":
                raise CheckpointRefusedError(
                    400, "witness.malformed", "not a signed note"
                ) from None
            raise CheckpointRefusedError(
                403, "witness.not_signed", "no valid signature of the log"
            ) from None
        if request.old > checkpoint.size:
            self._keep_if_shrunk(request)
            raise CheckpointRefusedError(
                400, "witness.old_above_size", "the old size exceeds the checkpoint's"
            )
        log_lines = _lines_of(request.note, opened.signed_by)

        def decide(latest: Cosigned | None) -> Cosigned:
            return self._decide(request, latest, log_lines)

        try:
            new = self.state.advance(checkpoint.origin, decide)
        except CheckpointRefusedError as refusal:
            if refusal.code == "witness.inconsistent":
                self.keep(request, "inconsistent", refusal.cosigned)
            raise
        _log.info("witness.cosigned", origin=checkpoint.origin, tree_size=checkpoint.size)
        return new.note[len(checkpoint.text()) + 1 + len(log_lines) :]

    def _decide(self, request: Request, latest: Cosigned | None, log_lines: str) -> Cosigned:
        checkpoint = request.checkpoint
        cosigned = latest.size if latest is not None else 0
        if request.old != cosigned:
            raise CheckpointRefusedError(
                409, "witness.conflict", "another old size", f"{cosigned}\n"
            )
        if checkpoint.size == 0 and checkpoint.root != _EMPTY_ROOT:
            raise CheckpointRefusedError(
                422, "witness.bad_root", "an empty tree has the empty root"
            )
        if request.old == 0:
            if request.proof:
                raise CheckpointRefusedError(
                    422, "witness.bad_proof", "no proof extends an empty tree"
                )
        elif latest is not None and not verify_consistency(
            request.old, checkpoint.size, latest.root, checkpoint.root, request.proof
        ):
            raise CheckpointRefusedError(
                422,
                "witness.inconsistent",
                "the checkpoint does not extend the last",
                cosigned=latest.size,
            )
        now = self.state.now()
        text = checkpoint.text()
        lines = "".join(s.signature_line(text, now) for s in self.config.signers)
        note = text + "\n" + log_lines + lines
        return Cosigned(checkpoint.origin, checkpoint.size, checkpoint.root, note, now)

    def keep(self, request: Request, kind: str, cosigned_size: int) -> None:
        """Keep a checkpoint the log signed that does not extend what was cosigned."""
        self.state.keep_evidence(
            Evidence(
                request.checkpoint.origin,
                self.state.now(),
                kind,
                request.old,
                cosigned_size,
                request.checkpoint.size,
                _request_text(request),
            )
        )
        self.evidence.inc()
        _log.warning(
            "witness.evidence",
            origin=request.checkpoint.origin,
            evidence_kind=kind,
            tree_size=request.checkpoint.size,
            cosigned_size=cosigned_size,
        )

    def _keep_if_shrunk(self, request: Request) -> None:
        latest = self.state.latest(request.checkpoint.origin)
        if latest is not None and request.checkpoint.size < latest.size:
            self.keep(request, "shrunk", latest.size)


def _request_text(request: Request) -> str:
    proof = "".join(base64.b64encode(p).decode() + "\n" for p in request.proof)
    return f"old {request.old}\n{proof}\n{request.note}"


def _lines_of(note: str, signers: tuple[NoteVerifier, ...]) -> str:
    """The signature lines of ``note`` that ``signers`` made (the log's verified ones)."""
    names = {(v.name, v.id) for v in signers}
    kept = []
    for line in note[note.rindex("\n\n") + 2 :].splitlines():
        name, _, encoded = line[2:].partition(" ")
        blob = base64.b64decode(encoded)
        if (name, int.from_bytes(blob[:4], "big")) in names:
            kept.append(line + "\n")
    return "".join(kept)


def witness_app(witness: Witness) -> web.Application:
    """The witness's HTTP service."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    routes = web.RouteTableDef()

    @routes.post("/add-checkpoint")
    async def add_checkpoint(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            lines = witness.add_checkpoint(body)
        except CheckpointRefusedError as refusal:
            witness.answers.labels(str(refusal.status)).inc()
            if refusal.body is not None:
                return web.Response(
                    status=refusal.status, text=refusal.body, content_type=SIZE_TYPE
                )
            return web.Response(status=refusal.status, text=f"{refusal.code}: {refusal.reason}\n")
        witness.answers.labels("200").inc()
        return web.Response(text=lines)

    @routes.get("/{origin_hash:[0-9a-f]{64}}/checkpoint")
    async def checkpoint(request: web.Request) -> web.Response:
        for log in witness.state.logs():
            if hashlib.sha256(log.origin.encode()).hexdigest() == request.match_info["origin_hash"]:
                return web.Response(text=log.note)
        return web.Response(status=404, text="witness.unknown_log: never cosigned that log\n")

    @routes.get("/status")
    async def status(_: web.Request) -> web.Response:
        return web.json_response(status_of(witness))

    @routes.get("/")
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=status_page(witness), content_type="text/html")

    @routes.get("/metrics")
    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(witness.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.add_routes(routes)
    return app


def status_of(witness: Witness) -> dict[str, object]:
    """What the witness has cosigned and the evidence it keeps, as JSON."""
    return {
        "witness": [str(s.verifier) for s in witness.config.signers],
        "logs": [
            {"origin": log.origin, "tree_size": log.size, "cosigned_at": log.cosigned_at}
            for log in witness.state.logs()
        ],
        "evidence": [
            {
                "origin": e.origin,
                "seen_at": e.seen_at,
                "kind": e.kind,
                "old_size": e.old_size,
                "cosigned_size": e.cosigned_size,
                "tree_size": e.size,
                "request": e.request,
            }
            for e in witness.state.evidence()
        ],
    }


def status_page(witness: Witness) -> str:
    """The page the agency's IG officer reads: logs followed, and any evidence of a fork."""
    logs = "".join(
        f"<tr><td>{html.escape(log.origin)}</td><td>{log.size}</td>"
        f"<td>{_when(log.cosigned_at)}</td></tr>"
        for log in witness.state.logs()
    )
    evidence = witness.state.evidence()
    rows = "".join(
        f"<tr><td>{html.escape(e.origin)}</td><td>{_when(e.seen_at)}</td>"
        f"<td>{html.escape(_KINDS.get(e.kind, e.kind))}</td><td>{e.cosigned_size}</td>"
        f"<td>{e.size}</td></tr>"
        for e in evidence
    )
    verdict = (
        f'<p class="alarm" role="alert">{len(evidence)} checkpoint(s) signed by a log do'
        " not extend what this witness cosigned: a second history. Keep this page and"
        " the state file; tell your DPO and the programme's IG lead.</p>"
        if evidence
        else "<p>No log has shown this witness a second history.</p>"
    )
    return _PAGE.format(
        keys="".join(
            f"<li><code>{html.escape(str(s.verifier))}</code></li>" for s in witness.config.signers
        ),
        logs=logs or '<tr><td colspan="3">nothing cosigned yet</td></tr>',
        verdict=verdict,
        evidence=rows,
        evidence_hidden="" if evidence else " hidden",
    )


_KINDS: Final = {
    "inconsistent": "does not extend the cosigned tree",
    "shrunk": "smaller than the cosigned tree",
}


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ledger witness</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 60rem; color: #1b1b1b; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #b1b4b6; padding: .4rem .7rem; text-align: left; }}
.alarm {{ background: #d4351c; color: #fff; padding: 1rem; font-weight: bold; }}
code {{ word-break: break-all; }}
</style></head><body>
<h1>Ledger witness</h1>
<p>This witness cosigns a hub's ledger checkpoints only when each extends the last
one it cosigned (C2SP tlog-witness).</p>
<h2>Its keys</h2><ul>{keys}</ul>
<h2>Logs it follows</h2>
<table><thead><tr><th>Origin</th><th>Cosigned size</th><th>Cosigned at</th></tr></thead>
<tbody>{logs}</tbody></table>
<h2>Evidence</h2>
{verdict}
<table{evidence_hidden}><thead><tr><th>Origin</th><th>Seen at</th><th>What</th>
<th>Cosigned size</th><th>Its size</th></tr></thead><tbody>{evidence}</tbody></table>
</body></html>
"""

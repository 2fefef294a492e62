"""``hub-evaluation``: the national evaluator's side of the evaluation feed.

- ``hub-evaluation receive --config FILE [--idle SECONDS]``: keep every evaluation
  record the area hubs send (each record checked against the hub's signature)
  in the evaluator's DuckDB store;
- ``hub-evaluation report --store FILE --out DIR``: the measures, released under
  the release rule, as CSV, charts and a page that opens without a server;
- ``hub-evaluation release --config FILE --report DIR``: announce a written report
  to every area hub, each of which records it as a release in its ledger;
- ``hub-evaluation verify --store FILE --keys DIR``: check every kept record's
  hub signature and contents again.

Every failure ends with one line ``error <code>: <detail>`` on stderr: 2 for a
usage error (``usage.invalid``), 1 for any other.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tomllib
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from adapters.cli import EXIT_USAGE, USAGE_INVALID, UsageParser, fail
from adapters.evaluator.announce import announce, release_of
from adapters.evaluator.inbox import Inbox
from adapters.evaluator.measures import latest_month
from adapters.evaluator.privacy import Budget, decimal
from adapters.evaluator.release import DEFAULT_ROUNDING, DEFAULT_THRESHOLD, ReleaseRule
from adapters.evaluator.report import evaluate, evaluate_private, write_report
from adapters.evaluator.store import Store
from hub.broker import TopologyNames, make_broker
from hub.crypto import EnvelopeError, KeyDirectory, load_keyring, verify_record
from hub.errors import HubError
from hub.logs import configure
from schemas.evaluation import EvaluationRecord
from schemas.parties import PartyId  # noqa: TC001 - pydantic resolves annotations at runtime

if TYPE_CHECKING:
    import argparse

    from hub.broker import Broker


class HubLink(BaseModel):
    """One area hub the evaluator receives from: its party id, broker and names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    party: PartyId = "hub"
    broker_url: SecretStr
    topology_prefix: Annotated[str, Field(pattern=r"^([a-z0-9-]{1,40}\.)?$")] = ""


class ReceiveSettings(BaseModel):
    """``hub-evaluation receive``'s configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keys_dir: Path
    private_keys: Path
    store: Path
    hubs: Annotated[tuple[HubLink, ...], Field(min_length=1, max_length=64)]
    log_format: str = "auto"


def _read_settings(path: Path) -> ReceiveSettings:
    """The settings in ``path``, relative paths taken from its folder.

    Raises:
        HubError: ``settings.invalid``, naming the setting, never its value.
    """
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise HubError("settings.invalid", f"--config: {error.strerror or 'cannot read'}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise HubError("settings.invalid", f"--config: not TOML ({type(error).__name__})") from None
    for key in ("keys_dir", "private_keys", "store"):
        if isinstance(data.get(key), str):
            data[key] = str((path.resolve().parent / data[key]).resolve())
    try:
        return ReceiveSettings(**data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"])) or "(settings)"
        raise HubError("settings.invalid", f"{where}: {first['msg']}") from None


async def _connected(stack: AsyncExitStack, link: HubLink) -> Broker:
    """A connection to ``link``'s broker that ``stack`` closes."""
    broker = make_broker(link.broker_url.get_secret_value(), None, ())
    await broker.connect()
    stack.push_async_callback(broker.close)
    return broker


async def _receive(settings: ReceiveSettings, idle: float | None) -> int:
    keyring = load_keyring(settings.private_keys)
    directory = KeyDirectory.load(settings.keys_dir)
    store = Store(settings.store)
    try:
        async with AsyncExitStack() as stack:
            inboxes = []
            for link in settings.hubs:
                broker = await _connected(stack, link)
                names = TopologyNames(link.topology_prefix)
                inboxes.append(Inbox(keyring, directory, broker, store, names, link.party))
            tallies = await asyncio.gather(*(inbox.run(idle=idle) for inbox in inboxes))
    finally:
        held = store.count()
        store.close()
    kept = sum(t.kept for t in tallies)
    rejected = sum(sum(t.rejected.values()) for t in tallies)
    print(f"kept {kept} new records; {rejected} rejected; the store holds {held}")  # noqa: T201
    return 0


async def _announce(settings: ReceiveSettings, report: Path) -> int:
    release = release_of(report)
    keyring = load_keyring(settings.private_keys)
    directory = KeyDirectory.load(settings.keys_dir)
    for link in settings.hubs:
        async with AsyncExitStack() as stack:
            broker = await _connected(stack, link)
            names = TopologyNames(link.topology_prefix)
            await announce(release, keyring, directory, broker, names, link.party)
    print(  # noqa: T201
        f"release {release['release_id']} announced to {len(settings.hubs)} hub(s);"
        f" output sha256 {release['output_sha256']}"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    if not args.store.is_file():
        raise HubError("store.missing", f"--store: {args.store} does not exist")
    if (args.epsilon is None) != (args.budget is None):
        raise HubError(USAGE_INVALID, "--epsilon and --budget go together")
    privacy = None
    with Store(args.store) as store:
        latest = latest_month(store)
        if latest is None:
            raise HubError("store.empty", "--store holds no records yet: nothing to report")
        # Never past today: a case is observed only up to now, not to its month's end.
        as_of = args.as_of or min(latest, datetime.now(UTC).date())
        if args.epsilon is None:
            evaluation = evaluate(
                store, as_of, ReleaseRule(args.rule, args.threshold, args.rounding)
            )
        else:
            budget = Budget(store, args.budget)
            budget.check(args.epsilon)
            evaluation, loss = evaluate_private(store, as_of, args.epsilon)
            release_id = str(uuid.uuid4())
            spent = budget.spend(release_id, loss)
            privacy = {"release_id": release_id, "epsilon": decimal(loss),
                       "spent": decimal(spent), "budget": decimal(args.budget)}  # fmt: skip
    manifest = write_report(evaluation, args.out, privacy)
    spending = (
        f"; epsilon {privacy['epsilon']} spent, {privacy['spent']} of {privacy['budget']}"
        if privacy
        else ""
    )
    print(  # noqa: T201
        f"report: {args.out / 'index.html'} ({len(manifest['files'])} files, as of {as_of}"
        f"{spending})"
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    if not args.store.is_file():
        raise HubError("store.missing", f"--store: {args.store} does not exist")
    if not args.keys.is_dir():
        raise HubError("keys.unreadable", f"--keys: {args.keys} is not a folder of JWK Sets")
    directory = KeyDirectory.load(args.keys)
    bad: dict[str, int] = {}
    with Store(args.store) as store:
        records = {r.record: r for r in store.records()}
        tokens = store.tokens()
    for record_id, decision_id, token in tokens:
        try:
            signed = verify_record(
                token, directory, me=args.party, hub=args.hub, at=datetime.now(UTC)
            )
            kept = EvaluationRecord.model_validate_json(json.dumps(signed.record))
        except (EnvelopeError, ValidationError) as error:
            code = str(getattr(error, "code", "record.invalid"))
            bad[code] = bad.get(code, 0) + 1
            continue
        if kept != records[record_id] or str(signed.decision_id) != decision_id:
            bad["record.altered"] = bad.get("record.altered", 0) + 1
    print(f"{len(tokens)} records checked; {sum(bad.values())} failed {bad or ''}".rstrip())  # noqa: T201
    return 1 if bad else 0


def _parser() -> UsageParser:
    parser = UsageParser(prog="hub-evaluation", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=UsageParser)
    receive = commands.add_parser("receive", help="keep the records the area hubs send")
    receive.add_argument("--config", type=Path, required=True)
    receive.add_argument(
        "--idle", type=float, default=None, help="stop after this many seconds without a record"
    )
    report = commands.add_parser("report", help="write the released report")
    report.add_argument("--store", type=Path, required=True)
    report.add_argument("--out", type=Path, required=True)
    report.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        help="end of observation, YYYY-MM-DD (default: the latest month's end, or today)",
    )
    report.add_argument("--rule", default="opensafely", help="the release rule's name")
    report.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD)
    report.add_argument("--rounding", type=int, default=DEFAULT_ROUNDING)
    report.add_argument(
        "--epsilon",
        type=float,
        default=None,
        help="release the counts with differential privacy for this loss instead",
    )
    report.add_argument("--budget", type=float, default=None,
                        help="the store's total privacy budget, with --epsilon")  # fmt: skip
    release = commands.add_parser("release", help="announce a report to every area hub")
    release.add_argument("--config", type=Path, required=True)
    release.add_argument("--report", type=Path, required=True, help="the folder `report` wrote")
    verify = commands.add_parser("verify", help="check every kept record's hub signature")
    verify.add_argument("--store", type=Path, required=True)
    verify.add_argument("--keys", type=Path, required=True)
    verify.add_argument("--party", default="evaluator")
    verify.add_argument("--hub", default="hub")
    return parser


def _receive_command(args: argparse.Namespace) -> int:
    settings = _read_settings(args.config)
    configure("json" if settings.log_format == "json" else "auto")
    return asyncio.run(_receive(settings, args.idle))


def _release_command(args: argparse.Namespace) -> int:
    return asyncio.run(_announce(_read_settings(args.config), args.report))


def main(argv: list[str] | None = None) -> int:
    """Run ``hub-evaluation``; return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except HubError as error:
        return fail(error.code, f"{error.detail}\n{parser.format_usage().strip()}", EXIT_USAGE)
    commands = {"receive": _receive_command, "report": _report, "release": _release_command}
    try:
        return commands.get(args.command, _verify)(args)
    except HubError as error:
        return fail(error.code, error.detail)
    except duckdb.Error as error:
        # Never the database's message: it can quote what the file holds.
        return fail("store.invalid", f"the store cannot be used ({type(error).__name__})")
    except ValueError as error:
        return fail(USAGE_INVALID, str(error), EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Verify an exported hub ledger independently of the hub: intact, or the first break.

For information-governance officers (docs/audit-verification.md). This one file
uses only Python's standard library and the ``cryptography`` package; it imports
nothing from the hub, so it can be read in an afternoon and run on a machine the
hub's operators have never touched.

    python3 verify_ledger.py --keys hub.jwks.json ledger-export.jsonl
    intact: 1520 entries, checkpoint at size 1500

    broken at entry 612: ledger.hash_mismatch
    entry 612 does not match its hash

It reads the file ``hub audit export`` writes and the hub's public JWK Set, and
recomputes everything itself: each entry's SHA-256 over its stored bytes, that
those bytes are the RFC 8785 canonical JSON of a valid entry at its position,
the hash chain, that the ``decision_id`` and ``event_id`` columns and the search
index rows stored beside each entry (exports of version 2) say what its body says,
the RFC 9162 Merkle root at each checkpoint's size, and each checkpoint's Ed25519
signature (a compact JWS, key valid at the checkpoint's time). Its verdicts,
codes and named entries are the same as ``hub audit verify`` gives on the database
the file was exported from.

Exit status: 0 intact, 1 broken, 2 a usage or input error (a file that is not an
export, a key set that is not the hub's public one), reported on one line as
``error <code>: <detail>``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import math
import re
import sys
import time
import uuid
from datetime import date, datetime, timezone
from typing import IO, TYPE_CHECKING, Any, NamedTuple

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
except ImportError:  # pragma: no cover - depends on the auditor's machine
    sys.stderr.write(
        "error usage.cryptography: install it first: python3 -m pip install cryptography\n"
    )
    sys.exit(2)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

EXIT_INTACT, EXIT_BROKEN, EXIT_INPUT = 0, 1, 2

# The reason codes of `hub audit verify` (hub/ledger/base.py, docs/ledger.md).
HASH_MISMATCH = "ledger.hash_mismatch"
ENTRY_MALFORMED = "ledger.entry_malformed"
CHAIN_BROKEN = "ledger.chain_broken"
SEQUENCE_GAP = "ledger.sequence_gap"
CHECKPOINT_INVALID = "ledger.checkpoint_invalid"
CHECKPOINT_MISMATCH = "ledger.checkpoint_mismatch"
KEYS_MISMATCH = "ledger.keys_mismatch"
KEYS_MISMATCH_DETAIL = (
    "no checkpoint is signed by a hub key of the keys given: give this hub's public keys"
    " (if they are, every checkpoint is forged)"
)
COLUMN_MISMATCH = "ledger.column_mismatch"
INDEX_MISMATCH = "ledger.index_mismatch"
RECEIPT_INVALID = "ledger.receipt_invalid"

GENESIS_HASH = "0" * 64
EXPORT_TYPE = "ledger-export"
#: Version 1 carries each entry's body and hash; version 2 adds its stored columns.
EXPORT_VERSIONS = (1, 2, 3)
#: The most signature lines a checkpoint note may carry.
MAX_NOTE_SIGNATURES = 64
HUB_PARTY = "hub"
CHECKPOINT_TYP = "ledger-checkpoint+jwt"
#: The ``typ`` of a recipient's receipts (ADR 0029, ADR 0030), by the entry's outcome.
RECEIPT_TYPS = {"receipted": "delivery-receipt+jwt", "erased": "erasure-receipt+jwt"}
CHECKPOINT_CLAIMS = frozenset({"tree_size", "root_hash", "last_entry_hash", "time", "ledger_id"})
MAX_CLOCK_SKEW_SECONDS = 300
MAX_COUNT = 2**53
MAX_EPOCH = 10**10
#: JWS header members the hub's JOSE library accepts (RFC 7515 section 4.1, RFC 7797).
JWS_HEADER_MEMBERS = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "b64"}
)


class InputError(Exception):
    """The input is not what this script reads: exit status 2, one line, no traceback."""

    def __init__(self, code: str, detail: str) -> None:
        """Make an error with a stable ``code`` and a detail naming no content."""
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class MalformedError(ValueError):
    """JSON this verifier refuses, or a value that is not part of a valid entry."""


# --- Strict JSON, as the hub reads it (hub/safejson.py) --------------------------

MAX_DEPTH = 32
MAX_INT_DIGITS = 20
MAX_FLOAT_CHARS = 40
_SURROGATE = re.compile("[\ud800-\udfff]")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedError("duplicate object key")
        result[key] = value
    return result


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise MalformedError("integer literal too long")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_FLOAT_CHARS:
        raise MalformedError("number literal too long")
    value = float(text)
    if not math.isfinite(value):
        raise MalformedError("number out of range")
    return value


def _parse_constant(_: str) -> float:
    raise MalformedError("NaN and Infinity are not JSON")


def _check_nesting(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MalformedError("nesting too deep")
        if isinstance(node, str) and _SURROGATE.search(node):
            raise MalformedError("lone surrogate in a string")
        if isinstance(node, dict):
            if any(_SURROGATE.search(key) for key in node):
                raise MalformedError("lone surrogate in a key")
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def strict_loads(data: bytes | str) -> Any:
    """Parse JSON refusing duplicate keys, NaN, overlong numbers and deep nesting.

    Raises:
        MalformedError: anything else than such JSON.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except MalformedError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise MalformedError(type(error).__name__) from None
    _check_nesting(value)
    return value


# --- RFC 8785 canonical JSON, the subset ledger entries use ---------------------


def _canonical_string(text: str) -> str:
    # RFC 8785 section 3.2.2.2: the ECMAScript JSON.stringify escapes, nothing else.
    escapes = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
    escapes["\r"] = "\\r"
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif ord(char) < 0x20:  # noqa: PLR2004 - the control characters
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def canonical(value: Any) -> str:
    """RFC 8785 canonical JSON of null, booleans, integers, strings, arrays and objects.

    Entries hold no fractions, so numbers are integers within IEEE 754's exact
    range (section 3.2.2.3 then prints their decimal digits); a float is refused
    rather than formatted, since no valid entry can contain one.

    Raises:
        MalformedError: a float, or an integer outside +-(2**53 - 1).
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) >= MAX_COUNT:
            raise MalformedError("integer outside the exact range")
        return str(value)
    if isinstance(value, float):
        raise MalformedError("ledger entries hold no fractional numbers")
    if isinstance(value, str):
        return _canonical_string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    if isinstance(value, dict):
        # Section 3.2.3: members sorted by the UTF-16 code units of their names.
        names = sorted(value, key=lambda name: name.encode("utf-16-be"))
        return "{" + ",".join(f"{_canonical_string(n)}:{canonical(value[n])}" for n in names) + "}"
    raise MalformedError("not a JSON value")


# --- A valid entry (docs/ledger.md section 1; hub/ledger/entries.py) ------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.[0-9]{6}Z")
_HEX_HASH = re.compile(r"[0-9a-f]{64}")
_EVENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
_CASE = re.compile(r"c_[A-Za-z0-9_-]{43}")
_PERSON = re.compile(r"p_[A-Za-z0-9_-]{43}")
_PARTY = re.compile(r"[a-z][a-z0-9-]{1,31}")
_CODE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:;,()/#@+-]*")
_POLICY_HASH = re.compile(r"[0-9a-f]{16,128}")
_DIGEST = re.compile(r"d_[A-Za-z0-9_-]{43}")
_GROUPS = ("A", "B", "C", "D", "E", "F", "G", "H")
_ROLES = ("victim", "subject", "other")
_REASONS = ("not_granted", "safety_rule")
_KINDS = ("disclosure", "refusal", "consultation", "release", "receipt")
_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_RECEIPT_ITEMS = 256
_TABLE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,5})(\.[0-9]{1,6})?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_TABLES = 128
MAX_PERSONS = 64
MAX_GRANTS = 64
MAX_CODE = 64
MAX_LABEL = 240


def _text(pattern: re.Pattern[str], longest: int = 10**6) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and len(v) <= longest and bool(pattern.fullmatch(v))


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _count(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v < high


def _sorted_set(item: Callable[[Any], bool], longest: int) -> Callable[[Any], bool]:
    # Sets are written sorted and without repeats: one spelling per decision.
    def check(v: Any) -> bool:
        return (
            isinstance(v, list)
            and len(v) <= longest
            and all(item(i) for i in v)
            and v == sorted(set(v))
        )

    return check


def _day(value: Any) -> bool:
    # A calendar day, YYYY-MM-DD.
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _utc_time(value: Any) -> bool:
    found = _TIME.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in found.groups())
    try:
        datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - a calendar check only
    except ValueError:
        return False
    return True


def _group(value: Any) -> bool:
    return isinstance(value, str) and value in _GROUPS


def _object(fields: dict[str, Callable[[Any], bool]]) -> Callable[[Any], bool]:
    # An object with exactly these members, each valid.
    return lambda v: (
        isinstance(v, dict) and set(v) == set(fields) and all(c(v[n]) for n, c in fields.items())
    )


def _sorted_objects(
    item: Callable[[Any], bool], key: Callable[[Any], Any], longest: int
) -> Callable[[Any], bool]:
    # Arrays of objects are written sorted by their key, each key once.
    def check(v: Any) -> bool:
        if not isinstance(v, list) or len(v) > longest or not all(item(i) for i in v):
            return False
        keys = [key(i) for i in v]
        return keys == sorted(set(keys))

    return check


_label = _optional(_text(_LABEL, MAX_LABEL))
_code = _text(_CODE, MAX_CODE)
_party = _optional(_text(_PARTY))
_uuid = _text(_UUID)
_required_label = _text(_LABEL, MAX_LABEL)
_version = _count(1, 2**31 + 1)


def _reference(grant: dict[str, Any]) -> str:
    return f"{grant['agreement_id']}@{grant['agreement_version']}#{grant['clause']}"


_PERSON_IN_EVENT = _object({"pseudonym": _text(_PERSON), "role": lambda v: v in _ROLES})
_GRANT = _object(
    {
        "agreement_id": _required_label,
        "agreement_version": _version,
        "clause": _required_label,
        "purpose": _required_label,
        "lawful_basis": _required_label,
        "groups": lambda v: bool(v) and _sorted_set(_group, len(_GROUPS))(v),
    }
)
_WITHHELD = _object({"group": _group, "reason": lambda v: v in _REASONS, "rule": _label})
_CRITERIA = _object(
    {
        "agency": _party,
        "kind": lambda v: v is None or v in _KINDS,
        "actor": _label,
        "since": _optional(_utc_time),
        "until": _optional(_utc_time),
        "up_to": _optional(_count(0, MAX_COUNT)),
        "draft": _optional(_uuid),
    }
)
_decimal = _optional(_text(_DECIMAL))


def _release(value: Any) -> bool:
    """A release's record (hub/ledger/entries.py ReleaseRecord): its shape and its rule."""
    shape = _object(
        {
            "release_id": _uuid,
            "as_of": _text(_DAY),
            "tables": lambda v: bool(v) and _sorted_set(_text(_TABLE), MAX_TABLES)(v),
            "mechanism": lambda v: v in ("suppression", "laplace"),
            "rule": _required_label,
            "threshold": _optional(_count(0, 10_001)),
            "rounding": _optional(_count(1, 10_001)),
            "epsilon": _decimal,
            "spent": _decimal,
            "budget": _decimal,
            "output_sha256": _text(_HEX_HASH),
        }
    )
    if not shape(value):
        return False
    noise = (value["epsilon"], value["spent"], value["budget"])
    if value["mechanism"] == "suppression":
        return value["threshold"] is not None and value["rounding"] is not None and not any(noise)
    return all(noise)


_RECEIVED = {"decision_id": _uuid, "digest": _text(_HEX_HASH)}


def _received_item(value: Any) -> bool:
    # until (a day) is there only when the recipient acknowledged a retention end.
    if isinstance(value, dict) and "until" in value:
        return _object({**_RECEIVED, "until": _day})(value)
    return _object(_RECEIVED)(value)


def _receipt(value: Any) -> bool:
    """A receipt's record (hub/ledger/entries.py ReceiptRecord): its shape and its items."""
    shape = _object(
        {
            "receipt_id": _uuid,
            "signed_at": _utc_time,
            "items": lambda v: isinstance(v, list) and 0 < len(v) <= MAX_RECEIPT_ITEMS,
            "signed": _text(_JWS, 64 * 1024),
        }
    )
    if not shape(value) or not all(_received_item(item) for item in value["items"]):
        return False
    ids = [item["decision_id"] for item in value["items"]]
    return ids == sorted(set(ids))


ENTRY_FIELDS: dict[str, Callable[[Any], bool]] = {
    "kind": lambda v: v in _KINDS,
    "decision_id": _uuid,
    "recorded_at": _utc_time,
    "event_id": _optional(_uuid),
    "event_type": _optional(_text(_EVENT_TYPE)),
    "case_pseudonym": _optional(_text(_CASE)),
    "person_pseudonyms": _sorted_set(_text(_PERSON), MAX_PERSONS),
    "provider": _party,
    "recipient": _party,
    "agreement_id": _label,
    "agreement_version": _optional(_count(1, 2**31 + 1)),
    "clause": _label,
    "purpose": _label,
    "lawful_basis": _label,
    "groups_disclosed": _sorted_set(_group, len(_GROUPS)),
    "groups_withheld": _sorted_set(_group, len(_GROUPS)),
    "policy_hash": _optional(_text(_POLICY_HASH)),
    "outcome": _code,
    "reason_code": _optional(_code),
    "actor": _label,
    "seq": _count(0, MAX_COUNT),
    "prev_hash": _text(_HEX_HASH),
}
#: Format 2 entries (docs/ledger.md section 1) hold every format 1 field and these.
FORMAT_2_FIELDS: dict[str, Callable[[Any], bool]] = {
    **ENTRY_FIELDS,
    "format": lambda v: type(v) is int and v == 2,  # noqa: PLR2004 - the format number
    "persons": _sorted_objects(
        _PERSON_IN_EVENT, lambda p: (p["pseudonym"], p["role"]), 2 * MAX_PERSONS
    ),
    "grants": _sorted_objects(_GRANT, _reference, MAX_GRANTS),
    "withheld": _sorted_objects(_WITHHELD, lambda w: w["group"], len(_GROUPS)),
    "content_digest": _optional(_text(_DIGEST)),
    "criteria": lambda v: v is None or _CRITERIA(v),
}


def justified(fields: dict[str, Any]) -> bool:
    """The rules a format 2 entry's parts keep among themselves (hub/ledger/entries.py).

    A withheld group's rule is named exactly when a safety rule is its reason;
    every person with a role is among ``person_pseudonyms``; the grants hold
    exactly the disclosed groups and the primary clause is one of them (for a
    disclosure, or any entry with grants); every withheld group has its reason.
    """
    if any((w["reason"] == "safety_rule") != (w["rule"] is not None) for w in fields["withheld"]):
        return False
    if not {p["pseudonym"] for p in fields["persons"]} <= set(fields["person_pseudonyms"]):
        return False
    grants = fields["grants"]
    if grants or fields["outcome"] == "disclosed":
        if {g for grant in grants for g in grant["groups"]} != set(fields["groups_disclosed"]):
            return False
        names = ("agreement_id", "agreement_version", "clause", "purpose", "lawful_basis")
        primary = tuple(fields[n] for n in names)
        held = [tuple({**g, "clause": _reference(g)}[n] for n in names) for g in grants]
        if primary not in held:
            return False
    return {w["group"] for w in fields["withheld"]} == set(fields["groups_withheld"])


def valid_entry(fields: Any) -> bool:
    """Whether parsed JSON is a valid entry of format 1 (no ``format``) or format 2.

    A release (``kind: release``, format 2 only) holds the one more member
    ``release``, and a receipt (``kind: receipt``, format 2 only) ``receipt``; no
    other entry holds either.
    """
    if not isinstance(fields, dict):
        return False
    shape = FORMAT_2_FIELDS if "format" in fields else ENTRY_FIELDS
    for member, check in (("release", _release), ("receipt", _receipt)):
        held = member in fields
        if held != (fields.get("kind") == member) or (held and shape is ENTRY_FIELDS):
            return False
        if held and not check(fields[member]):
            return False
    if fields.get("kind") == "receipt" and fields.get("outcome") not in ("receipted", "erased"):
        return False
    members = set(fields) - {"release", "receipt"}
    if members != set(shape) or not all(check(fields[n]) for n, check in shape.items()):
        return False
    return shape is ENTRY_FIELDS or justified(fields)


class Columns(NamedTuple):
    """What the store keeps beside a body, as exported (version 2): ids and index rows."""

    decision_id: str | None
    event_id: str | None
    recorded_at: str | None
    terms: frozenset[str]


class Row(NamedTuple):
    """One stored entry: its position column, its body text, its stored hash, its columns."""

    seq: int
    body: str
    entry_hash: str
    columns: Columns | None = None


#: Entry fields the hub's search index holds one term of each (hub/ledger/search.py).
_SINGLE_TERMS = (
    ("case", "case_pseudonym"),
    ("provider", "provider"),
    ("recipient", "recipient"),
    ("agreement", "agreement_id"),
    ("type", "event_type"),
    ("kind", "kind"),
    ("actor", "actor"),
)


def index_terms(fields: dict[str, Any]) -> frozenset[str]:
    """The search index terms of a valid entry, as the hub writes them."""
    terms = {f"{n}:{fields[k]}" for n, k in _SINGLE_TERMS if isinstance(fields[k], str)}
    terms |= {f"person:{person}" for person in fields["person_pseudonyms"]}
    terms |= {f"party:{fields[k]}" for k in ("provider", "recipient") if isinstance(fields[k], str)}
    if "receipt" in fields:
        items = fields["receipt"]["items"]
        done = "erased" if fields["outcome"] == "erased" else "receipted"
        terms |= {f"{done}:{item['decision_id']}" for item in items}
        terms |= {f"erase-by:{item['until']}" for item in items if "until" in item}
    return frozenset(terms)


def column_problem(at: int, fields: dict[str, Any], columns: Columns) -> tuple[str, str] | None:
    """The code and detail when the stored columns or index rows differ from the body."""
    if columns.decision_id != fields["decision_id"]:
        return COLUMN_MISMATCH, f"entry {at}: decision_id column differs"
    if columns.event_id != fields["event_id"]:
        return COLUMN_MISMATCH, f"entry {at}: event_id column differs"
    if columns.recorded_at != fields["recorded_at"] or columns.terms != index_terms(fields):
        return INDEX_MISMATCH, f"entry {at}: search index rows differ"
    return None


class Break(Exception):  # noqa: N818 - a verdict, not a failure of this script
    """The first entry that breaks: its position, the reason code and a detail."""

    def __init__(self, at: int, code: str, detail: str) -> None:
        """Name the break."""
        super().__init__(f"{code} at {at}: {detail}")
        self.at, self.code, self.detail = at, code, detail


def parse_entry(row: Row) -> dict[str, Any]:
    """Check a row's hash and that its body is the canonical JSON of a valid entry.

    Returns:
        The entry's fields.

    Raises:
        Break: ``ledger.hash_mismatch`` or ``ledger.entry_malformed`` at ``row.seq``.
    """
    body = row.body.encode("utf-8")
    if hashlib.sha256(body).hexdigest() != row.entry_hash:
        raise Break(row.seq, HASH_MISMATCH, f"entry {row.seq} does not match its hash")
    try:
        fields = strict_loads(body)
        valid = valid_entry(fields)
    except MalformedError:
        valid = False
    if not valid:
        raise Break(row.seq, ENTRY_MALFORMED, f"entry {row.seq} is not valid")
    if canonical(fields) != row.body:
        raise Break(row.seq, ENTRY_MALFORMED, f"entry {row.seq} is not canonical")
    return fields  # type: ignore[no-any-return]


# --- The RFC 9162 Merkle tree (section 2.1.1) -----------------------------------


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class Frontier:
    """The roots of a growing tree's perfect subtrees, largest first: O(log n) memory."""

    def __init__(self) -> None:
        """Start an empty tree."""
        self.size = 0
        self._roots: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash at the end, merging equal subtrees like a binary counter."""
        current, size = leaf, self.size
        while size & 1:
            current = node_hash(self._roots.pop(), current)
            size >>= 1
        self._roots.append(current)
        self.size += 1

    def root(self) -> bytes:
        """MTH of the tree so far; the hash of the empty string for no leaves."""
        if not self._roots:
            return hashlib.sha256(b"").digest()
        current = self._roots[-1]
        for left in reversed(self._roots[:-1]):
            current = node_hash(left, current)
        return current


# --- The hub's public keys and its signed checkpoints ---------------------------


class HubKey(NamedTuple):
    """One hub signing key and its validity window (seconds since the epoch)."""

    key: Ed25519PublicKey
    not_before: int
    not_after: int


def b64url_decode(text: Any) -> bytes:
    """Decode unpadded base64url, refusing any other alphabet or spelling.

    Raises:
        MalformedError: not canonical base64url.
    """
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise MalformedError("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MalformedError("not base64url") from None
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != text:
        raise MalformedError("not canonical base64url")
    return data


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of an OKP key (RFC 8037 section 2): its ``kid``."""
    members = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


_KEY_KINDS = {"sig": ("Ed25519", "Ed25519"), "enc": ("X25519", "ECDH-ES+A256KW")}


def _epoch(value: Any) -> int:
    if type(value) is not int or not 0 <= value < MAX_EPOCH:
        raise InputError("keys.unreadable", "nbf and exp must be whole seconds since the epoch")
    return value


def _read_jwk(jwk: Any) -> tuple[str, str, HubKey | None]:
    """Check one JWK as the hub does; return its kid, use and, for signing keys, the key."""
    if (
        not isinstance(jwk, dict)
        or not isinstance(jwk.get("use"), str)
        or jwk["use"] not in _KEY_KINDS
    ):
        raise InputError("keys.unreadable", "a key is not an Ed25519 or X25519 JWK")
    use = jwk["use"]
    curve, alg = _KEY_KINDS[use]
    if jwk.get("kty") != "OKP" or jwk.get("crv") != curve or jwk.get("alg") != alg:
        raise InputError("keys.unreadable", "a key is not an Ed25519 or X25519 JWK")
    if "d" in jwk:
        raise InputError("keys.unreadable", "the key set holds a private key: use hub.jwks.json")
    nbf, exp = _epoch(jwk.get("nbf")), _epoch(jwk.get("exp"))
    try:
        raw = b64url_decode(jwk.get("x"))
        public = (Ed25519PublicKey if use == "sig" else X25519PublicKey).from_public_bytes(raw)
    except (MalformedError, ValueError):
        raise InputError("keys.unreadable", "a key's x is not a public key") from None
    kid = thumbprint(jwk)
    if jwk.get("kid") != kid:
        raise InputError("keys.unreadable", "a kid is not the RFC 7638 thumbprint of its key")
    signing = HubKey(public, nbf, exp) if isinstance(public, Ed25519PublicKey) else None
    return kid, use, signing


def _read_key_set(path: str) -> tuple[Any, list[tuple[str, str, HubKey | None]]]:
    """A public JWK Set file's ``party`` and its keys (kid, use, signing key), each checked.

    Raises:
        InputError: ``keys.unreadable`` for a file that is not a public JWK Set.
    """
    try:
        with open(path, "rb") as handle:  # noqa: PTH123 - plain open keeps old Pythons happy
            document = strict_loads(handle.read())
    except OSError as error:
        raise InputError("keys.unreadable", f"{path}: {error.strerror}") from None
    except MalformedError:
        raise InputError("keys.unreadable", f"{path}: not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise InputError("keys.unreadable", f"{path}: not a JWK Set")
    keys = [_read_jwk(jwk) for jwk in document["keys"]]
    if len({kid for kid, _, _ in keys}) != len(keys):
        raise InputError("keys.unreadable", "a key id appears twice")
    return document.get("party"), keys


def load_hub_keys(path: str) -> dict[str, HubKey]:
    """Read the hub's public JWK Set and return its signing keys by kid.

    Raises:
        InputError: ``keys.unreadable`` for anything but the hub's public key set.
    """
    party, keys = _read_key_set(path)
    if party != HUB_PARTY:
        raise InputError("keys.unreadable", f"{path}: not the hub's key set (party is not hub)")
    return {kid: signing for kid, _, signing in keys if signing is not None}


class PartyKeys(NamedTuple):
    """Signing keys by kid with their party, and every kid of any use (to tell unknown keys)."""

    signing: dict[str, tuple[str, HubKey]]
    kids: frozenset[str]


def load_party_keys(paths: list[str], hub: dict[str, HubKey]) -> PartyKeys:
    """Read parties' public JWK Sets (``<party>.jwks.json``), the hub's keys joined in.

    Raises:
        InputError: ``keys.unreadable`` for a file that is not one party's public key set.
    """
    signing = {kid: (HUB_PARTY, key) for kid, key in hub.items()}
    owner = dict.fromkeys(hub, HUB_PARTY)
    for path in paths:
        party, keys = _read_key_set(path)
        if not isinstance(party, str) or not re.fullmatch(r"[a-z][a-z0-9-]{1,31}", party):
            raise InputError("keys.unreadable", f"{path}: names no party")
        for kid, _, key in keys:
            if owner.setdefault(kid, party) != party:
                raise InputError("keys.unreadable", "a key id appears under two parties")
            if key is not None:
                signing[kid] = (party, key)
    return PartyKeys(signing, frozenset(owner))


class Checkpoint(NamedTuple):
    """A checkpoint placed at its size: its claims when it verified, else the problem.

    A note cosigned by a witness policy's quorum names those witnesses.
    """

    size: int
    claims: dict[str, Any] | None
    problem: str
    witnessed_by: tuple[str, ...] | None = None


def claimed_size(token: str) -> int:
    """The ``tree_size`` a checkpoint claims, unverified, only to place a bad one; else 0."""
    try:
        payload = token.split(".")[1]
        claims = strict_loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        size = claims["tree_size"]
    except (IndexError, ValueError, binascii.Error, KeyError, TypeError):
        return 0
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else 0


class RefusedError(Exception):
    """A checkpoint that does not verify; its message is the hub's envelope code."""


def _header(parts: list[str]) -> dict[str, Any]:
    if len(parts) != 3:  # noqa: PLR2004 - header, payload, signature
        raise RefusedError("envelope.malformed")
    try:
        b64url_decode(parts[1])
        b64url_decode(parts[2])
        header = strict_loads(b64url_decode(parts[0]))
    except MalformedError:
        raise RefusedError("envelope.malformed") from None
    if not isinstance(header, dict):
        raise RefusedError("envelope.malformed")
    if header.get("alg") != "Ed25519":
        raise RefusedError("algorithm.not_allowed")
    if "crit" in header or header.get("typ") != CHECKPOINT_TYP:
        raise RefusedError("envelope.malformed")
    return header


def _signature_holds(parts: list[str], header: dict[str, Any], key: HubKey) -> bool:
    # The hub's JOSE library also refuses unregistered header members and b64=false.
    if not set(header) <= JWS_HEADER_MEMBERS or header.get("b64", True) is not True:
        return False
    try:
        key.key.verify(b64url_decode(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
    except InvalidSignature:
        return False
    return True


def _claims_problem(claims: Any) -> str:
    if not isinstance(claims, dict) or set(claims) != CHECKPOINT_CLAIMS:
        return "envelope.malformed"
    for name in ("tree_size", "time"):
        value = claims[name]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_COUNT:
            return "envelope.malformed"
    for name in ("root_hash", "last_entry_hash"):
        if not isinstance(claims[name], str) or not re.fullmatch(r"[0-9a-f]{64}", claims[name]):
            return "envelope.malformed"
    ledger_id = claims["ledger_id"]
    if not isinstance(ledger_id, str) or not re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", ledger_id):
        return "envelope.malformed"
    return ""


def _verified_claims(token: str, keys: dict[str, HubKey], now: float) -> dict[str, Any]:
    """The claims of a checkpoint that verifies, checked in the hub's order.

    Raises:
        RefusedError: the hub's envelope code for why it does not.
    """
    parts = token.split(".")
    header = _header(parts)
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise RefusedError("sender.unknown")
    if not _signature_holds(parts, header, key):
        raise RefusedError("signature.invalid")
    try:
        claims = strict_loads(b64url_decode(parts[1]))
    except MalformedError:
        claims = None
    if _claims_problem(claims):
        raise RefusedError("envelope.malformed")
    moment: int = claims["time"]
    if moment > now + MAX_CLOCK_SKEW_SECONDS:
        raise RefusedError("clock.skew")
    # ADR 0004: the key must have been valid at the checkpoint's own time, not now.
    if not key.not_before <= moment < key.not_after:
        raise RefusedError("key.not_valid")
    return claims  # type: ignore[no-any-return]


def verify_checkpoint(token: str, keys: dict[str, HubKey], now: float) -> Checkpoint:
    """Verify one checkpoint's signature, claims and time; never raises.

    Returns:
        The checkpoint at its size with its claims, or at its claimed size with the
        problem (the hub's envelope code: ``signature.invalid``, ``sender.unknown``...).
    """
    try:
        claims = _verified_claims(token, keys, now)
    except RefusedError as error:
        return Checkpoint(claimed_size(token), None, str(error))
    return Checkpoint(claims["tree_size"], claims, "")


# --- Checkpoint notes and witnesses (C2SP signed-note, tlog-checkpoint, ---------
# --- tlog-cosignature, tlog-policy; ADR 0026) -----------------------------------

NOTE_ED25519, NOTE_COSIGNATURE, NOTE_MLDSA = 0x01, 0x04, 0x06
_NOTE_KEY_BYTES = {NOTE_ED25519: 32, NOTE_COSIGNATURE: 32, NOTE_MLDSA: 1312}
#: A cosignature's bytes after its key ID: a u64 time and the signature.
_COSIGNATURE_BYTES = {NOTE_COSIGNATURE: 8 + 64, NOTE_MLDSA: 8 + 2420}
_NOTE_NAME = re.compile(r"^[^\s+]+$")


class NoteKey(NamedTuple):
    """A verifier key: its name, key ID, public key bytes and signature type."""

    name: str
    key_id: int
    public: bytes
    kind: int


def note_key_id(name: str, public: bytes, kind: int) -> int:
    """SHA-256(name || 0x0A || type || public key), first four bytes."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def _std_b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedError("not standard base64") from None


def parse_vkey(text: str) -> NoteKey:
    """Read ``<name>+<hex key ID>+base64(type || public key)``.

    Raises:
        MalformedError: any other shape, an unknown type, or an ID not the key's.
    """
    name, _, rest = text.partition("+")
    hex_id, _, material = rest.partition("+")
    raw = _std_b64(material)
    if (
        not _NOTE_NAME.fullmatch(name)
        or not re.fullmatch(r"[0-9a-f]{8}", hex_id)
        or not raw
        or len(raw) != 1 + _NOTE_KEY_BYTES.get(raw[0], -1)
        or note_key_id(name, raw[1:], raw[0]) != int(hex_id, 16)
    ):
        raise MalformedError("not a verifier key of a known type")
    return NoteKey(name, int(hex_id, 16), raw[1:], raw[0])


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """A note's text, and each signature line's key name and bytes.

    Raises:
        MalformedError: not a signed note.
    """
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise MalformedError("no blank line before the signatures")
    text, lines = note[: split + 1], note[split + 2 : -1].split("\n")
    if any(c < " " and c != "\n" for c in text) or len(lines) > MAX_NOTE_SIGNATURES:
        raise MalformedError("not a note's text")
    signatures = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\N{EM DASH}" or not _NOTE_NAME.fullmatch(parts[1]):  # noqa: PLR2004
            raise MalformedError("a signature line is malformed")
        blob = _std_b64(parts[2])
        if len(blob) < 5:  # noqa: PLR2004 - a key ID and a byte
            raise MalformedError("a signature is too short")
        signatures.append((parts[1], blob))
    return text, signatures


def parse_checkpoint_text(text: str) -> tuple[str, int, bytes, int]:
    """A checkpoint's origin, size, root, and how many extension lines follow.

    Raises:
        MalformedError: not an origin, a decimal size and a base64 32-byte root.
    """
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0] or not re.fullmatch(r"0|[1-9][0-9]{0,19}", lines[1]):  # noqa: PLR2004
        raise MalformedError("not a checkpoint")
    root = _std_b64(lines[2])
    if len(root) != 32 or not all(lines[3:]):  # noqa: PLR2004 - SHA-256
        raise MalformedError("not a checkpoint")
    return lines[0], int(lines[1]), root, len(lines) - 3


def _subtree_message(name: str, time_: int, text: str) -> bytes:
    """What an ML-DSA-44 cosigner signs (tlog-cosignature's ``cosigned_message``)."""
    origin, size, root, extensions = parse_checkpoint_text(text)
    cosigner, log = name.encode(), origin.encode()
    if extensions or len(cosigner) > 255 or len(log) > 255:  # noqa: PLR2004 - u8 lengths
        raise MalformedError("not a checkpoint this cosignature covers")
    if size == 0 and root != hashlib.sha256(b"").digest():
        raise MalformedError("an empty tree's root is SHA-256 of nothing")
    return (
        b"subtree/v1\n\x00"
        + bytes([len(cosigner)])
        + cosigner
        + time_.to_bytes(8, "big")
        + bytes([len(log)])
        + log
        + bytes(8)
        + size.to_bytes(8, "big")
        + root
    )


def note_signature_holds(key: NoteKey, text: str, blob: bytes) -> bool:
    """Whether ``blob`` (after the key ID) is ``key``'s signature of ``text``."""
    try:
        if key.kind == NOTE_ED25519:
            Ed25519PublicKey.from_public_bytes(key.public).verify(blob, text.encode())
            return True
        if len(blob) != _COSIGNATURE_BYTES[key.kind] or blob[0] & 0x80:
            return False
        time_ = int.from_bytes(blob[:8], "big")
        if key.kind == NOTE_COSIGNATURE:
            message = f"cosignature/v1\ntime {time_}\n{text}".encode()
            Ed25519PublicKey.from_public_bytes(key.public).verify(blob[8:], message)
        else:
            mldsa_key(key.public).verify(blob[8:], _subtree_message(key.name, time_, text))
    except (InvalidSignature, MalformedError):
        return False
    return True


def mldsa_key(public: bytes) -> Any:
    """An ML-DSA-44 public key, from ``cryptography`` 47 or later.

    Raises:
        InputError: ``usage.cryptography`` when the installed version has none.
    """
    try:
        from cryptography.hazmat.primitives.asymmetric.mldsa import (  # noqa: PLC0415
            MLDSA44PublicKey,
        )
    except ImportError:
        raise InputError(
            "usage.cryptography",
            "an ML-DSA-44 witness needs cryptography 47 or later:"
            " python3 -m pip install -U cryptography",
        ) from None
    return MLDSA44PublicKey.from_public_bytes(public)


class Policy(NamedTuple):
    """A witness policy (C2SP tlog-policy): witnesses by name, groups, and the quorum."""

    witnesses: dict[str, NoteKey]
    groups: dict[str, tuple[int, tuple[str, ...]]]
    quorum: str | None

    def meets(self, name: str, cosigned: set[str]) -> bool:
        """Whether ``name`` (a witness or a group) is satisfied by the witnesses ``cosigned``."""
        if name not in self.groups:
            return name in cosigned
        threshold, members = self.groups[name]
        return sum(self.meets(member, cosigned) for member in members) >= threshold

    def satisfied(self, cosigned: set[str]) -> bool:
        """Whether the witnesses ``cosigned`` meet the quorum."""
        return self.quorum is None or self.meets(self.quorum, cosigned)


def _policy_line(number: int, words: list[str], policy: Policy, names: set[str]) -> str | None:
    """Read one policy line into ``policy``; a quorum line's name (or ``none``)."""
    keyword, rest = words[0], words[1:]
    problem = f"line {number}"
    if keyword == "log" and len(rest) in (1, 2):
        parse_vkey(rest[0])
    elif keyword == "witness" and len(rest) in (2, 3) and rest[0] not in names:
        key = parse_vkey(rest[1])
        if key.kind == NOTE_ED25519:
            raise InputError("policy.invalid", f"{problem}: a witness key is a cosigner key")
        policy.witnesses[rest[0]] = key
        names.add(rest[0])
    elif keyword == "group" and len(rest) >= 3 and rest[0] not in names:  # noqa: PLR2004
        members = tuple(rest[2:])
        if len(set(members)) != len(members) or not set(members) <= names:
            raise InputError("policy.invalid", f"{problem}: a group member twice or undefined")
        rule = rest[1]
        threshold = {"all": len(members), "any": 1}.get(rule)
        if threshold is None and rule.isdigit() and rule == str(int(rule)):
            threshold = int(rule) if 1 <= int(rule) <= len(members) else None
        if threshold is None:
            raise InputError("policy.invalid", f"{problem}: a threshold of all, any, or 1 to n")
        policy.groups[rest[0]] = (threshold, members)
        names.add(rest[0])
    elif keyword == "quorum" and len(rest) == 1 and (rest[0] == "none" or rest[0] in names):
        return rest[0]
    else:
        raise InputError("policy.invalid", f"{problem}: not a policy line")
    return None


def load_policy(path: str) -> Policy:
    """Read a witness policy file (C2SP tlog-policy).

    Raises:
        InputError: ``policy.unreadable`` or ``policy.invalid`` (naming the line).
    """
    try:
        with open(path, encoding="utf-8") as handle:  # noqa: PTH123 - see load_hub_keys
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError("policy.unreadable", f"{path}: {type(error).__name__}") from None
    policy, names, quorums = Policy({}, {}, None), {"none"}, []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t")
        if not line or line.startswith("#"):
            continue
        try:
            quorum = _policy_line(number, line.split(), policy, names)
        except MalformedError:
            raise InputError("policy.invalid", f"line {number}: not a verifier key") from None
        if quorum is not None:
            quorums.append(quorum)
    if len(quorums) != 1:
        raise InputError("policy.invalid", "a policy has exactly one quorum line")
    return policy._replace(quorum=None if quorums[0] == "none" else quorums[0])


def verify_note(note: str, keys: dict[str, HubKey], policy: Policy | None) -> Checkpoint:
    """Verify a checkpoint note as the hub does; never raises (but for ML-DSA unsupported).

    The hub's signature: one of its signing keys, named by the note's origin. A
    policy witness's cosignature must verify; the note is witnessed when the
    witnesses who cosigned meet the quorum.
    """
    try:
        text, signatures = split_note(note)
        origin, size, root, _ = parse_checkpoint_text(text)
    except MalformedError:
        return Checkpoint(0, None, "note.malformed")
    known: dict[tuple[str, int], tuple[str | None, NoteKey]] = {
        (k.name, k.key_id): (None, k)
        for k in (
            NoteKey(origin, note_key_id(origin, raw, NOTE_ED25519), raw, NOTE_ED25519)
            for raw in (key.key.public_bytes_raw() for key in keys.values())
        )
    }
    witnesses = policy.witnesses if policy is not None else {}
    known.update(((k.name, k.key_id), (name, k)) for name, k in witnesses.items())
    log_signed, cosigned = False, set[str]()
    for name, blob in signatures:
        entry = known.get((name, int.from_bytes(blob[:4], "big")))
        if entry is None:
            continue
        witness, key = entry
        if not note_signature_holds(key, text, blob[4:]):
            return Checkpoint(size, None, "note.signature_invalid")
        if witness is None:
            log_signed = True
        else:
            cosigned.add(witness)
    if not log_signed:
        return Checkpoint(size, None, "sender.unknown")
    claims = {"tree_size": size, "root_hash": root.hex(), "ledger_id": origin.rsplit("/", 1)[-1]}
    witnessed = None
    if policy is not None and policy.satisfied(cosigned):
        witnessed = tuple(name for name in policy.witnesses if name in cosigned)
    return Checkpoint(size, claims, "", witnessed)


def verify_kept(
    checkpoint: str, keys: dict[str, HubKey], now: float, policy: Policy | None
) -> Checkpoint:
    """Verify a checkpoint kept as a JWS or as a note."""
    if "\n" in checkpoint:
        return verify_note(checkpoint, keys, policy)
    return verify_checkpoint(checkpoint, keys, now)


# --- One disclosure's proof (C2SP tlog-proof; ADR 0027) --------------------------

PROOF_HEADER = "c2sp.org/tlog-proof@v1"


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: whether ``path`` leads from the leaf at ``index`` to ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, node = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = node_hash(sibling, node)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and node == root


def read_proof(text: str) -> tuple[str, int, list[bytes], str]:
    """A proof's entry body, index, inclusion path and checkpoint note.

    Raises:
        InputError: ``proof.malformed``.
    """
    malformed = InputError("proof.malformed", "not a C2SP tlog-proof of a ledger entry")
    head, separator, note = text.partition("\n\n")
    lines = head.split("\n")
    if not separator or len(lines) < 3 or lines[0] != PROOF_HEADER:  # noqa: PLR2004
        raise malformed
    index = re.fullmatch(r"index (0|[1-9][0-9]{0,19})", lines[2])
    if not lines[1].startswith("extra ") or index is None or len(lines) > 3 + 64:
        raise malformed
    try:
        body = _std_b64(lines[1][len("extra ") :]).decode("utf-8")
        path = [_std_b64(line) for line in lines[3:]]
    except (MalformedError, UnicodeDecodeError):
        raise malformed from None
    if any(len(p) != 32 for p in path):  # noqa: PLR2004 - SHA-256
        raise malformed
    return body, int(index.group(1)), path, note


def check_proof(text: str, keys: dict[str, HubKey], policy: Policy | None) -> list[str]:
    """Check a disclosure's proof as ``hub audit check-proof`` does; the lines to print.

    Raises:
        InputError: ``proof.malformed``; RefusedError: ``proof.unsigned``,
            ``proof.not_included``, ``proof.unwitnessed``.
    """
    body, index, path, note = read_proof(text)
    checkpoint = verify_note(note, keys, policy)
    if checkpoint.claims is None:
        if checkpoint.problem == "note.malformed":
            raise InputError("proof.malformed", "the checkpoint is not a note")
        raise RefusedError(f"proof.unsigned: the checkpoint note: {checkpoint.problem}")
    claims, size = checkpoint.claims, checkpoint.size
    root = bytes.fromhex(claims["root_hash"])
    if not verify_inclusion(index, size, leaf_hash(body.encode("utf-8")), path, root):
        raise RefusedError(f"proof.not_included: entry {index} is not in that tree")
    try:
        fields = parse_entry(Row(index, body, hashlib.sha256(body.encode("utf-8")).hexdigest()))
    except Break:
        raise InputError(
            "proof.malformed", "the entry is not a ledger entry at its place"
        ) from None
    if policy is not None and checkpoint.witnessed_by is None:
        raise RefusedError("proof.unwitnessed: the witnesses' quorum did not cosign it")
    what = f"entry {index} ({fields['kind']}, decision {fields['decision_id']})"
    lines = [f"included: {what} in the checkpoint of size {size} of ledger {claims['ledger_id']}"]
    if checkpoint.witnessed_by is not None:
        lines.append(f"witnessed: cosigned by {', '.join(checkpoint.witnessed_by)}")
    return lines


# --- Receipts: each recipient's own signature (ADR 0029, ADR 0030) ------------------


def _receipt_items(value: Any) -> set[tuple[uuid.UUID, str, date | None]] | None:  # noqa: PLR0911
    """A signed receipt's items, read as the hub reads them; None when malformed."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_RECEIPT_ITEMS:
        return None
    items = []
    for item in value:
        if not isinstance(item, dict) or not {"decision_id", "digest"} <= set(item) <= {
            "decision_id",
            "digest",
            "until",
        }:
            return None
        digest = item["digest"]
        if not isinstance(digest, str) or not _HEX_HASH.fullmatch(digest):
            return None
        try:
            decision_id = uuid.UUID(str(item["decision_id"]))
        except ValueError:
            return None
        until = item.get("until")
        if until is not None and not _day(until):
            return None
        items.append((decision_id, digest, None if until is None else date.fromisoformat(until)))
    if len({i[0] for i in items}) != len(items):
        return None
    return set(items)


def _receipt_header(parts: list[str], typ: str | None) -> dict[str, Any] | None:
    """A receipt JWS's protected header, checked as the hub checks it; None when not."""
    try:
        if len(parts) != 3:  # noqa: PLR2004 - header, payload, signature
            return None
        b64url_decode(parts[1])
        b64url_decode(parts[2])
        header = strict_loads(b64url_decode(parts[0]))
    except MalformedError:
        return None
    if (
        not isinstance(header, dict)
        or header.get("alg") != "Ed25519"
        or "crit" in header
        or header.get("typ") != typ
        or not isinstance(header.get("kid"), str)
    ):
        return None
    return header


def _receipt_says(claims: Any, party: str, fields: dict[str, Any], signed_at: datetime) -> bool:
    """Whether verified claims say what the receipt entry records, signer included."""
    record = fields["receipt"]
    try:
        issued = datetime.fromtimestamp(claims["iat"], tz=timezone.utc)  # noqa: UP017 - old Pythons
        receipt_id = uuid.UUID(str(claims.get("jti")))
    except (KeyError, TypeError, ValueError, OverflowError):
        return False
    held = {
        (uuid.UUID(i["decision_id"]), i["digest"], _until(i.get("until"))) for i in record["items"]
    }
    return (
        claims.get("iss") == party == fields["recipient"]
        and receipt_id == uuid.UUID(record["receipt_id"])
        and issued == signed_at
        and _receipt_items(claims.get("receipts")) == held
    )


def receipt_check(fields: dict[str, Any], keys: PartyKeys | None) -> str:
    """Whether a receipt entry's recipient signed what it records.

    Returns:
        ``ok``; ``invalid``; or ``unchecked`` when the keys given hold none of the
        signing key's (the hub's ``sender.unknown``).
    """
    record = fields["receipt"]
    parts = record["signed"].split(".")
    header = _receipt_header(parts, RECEIPT_TYPS.get(fields["outcome"]))
    if header is None:
        return "invalid"
    if keys is None or header["kid"] not in keys.kids:
        return "unchecked"
    signer = keys.signing.get(header["kid"])
    at = datetime.fromisoformat(record["signed_at"].replace("Z", "+00:00"))  # noqa: FURB162 - old Pythons
    if signer is None or not signer[1].not_before <= at.timestamp() < signer[1].not_after:
        return "invalid"
    party, key = signer
    if not _signature_holds(parts, header, key):
        return "invalid"
    try:
        claims = strict_loads(b64url_decode(parts[1]))
    except MalformedError:
        return "invalid"
    return (
        "ok" if isinstance(claims, dict) and _receipt_says(claims, party, fields, at) else "invalid"
    )


def _until(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


# --- The walk: the same state machine as the hub's (hub/ledger/verify.py) -------


class Verdict(NamedTuple):
    """What the walk found; ``code`` is None when intact."""

    entries: int
    checkpoint_size: int
    checkpoints: int
    broken_at: int | None = None
    code: str | None = None
    detail: str = ""
    #: With a witness policy: the largest size a quorum-cosigned note confirmed.
    witnessed_size: int | None = None
    witnesses: tuple[str, ...] = ()
    notes: int = 0
    #: Receipt entries whose recipient's signature was checked and holds.
    receipts: int = 0
    #: Per party, receipts not checked: the keys given hold none of its.
    receipts_unchecked: tuple[tuple[str, int], ...] = ()


class Verifier:
    """Feed rows in file order; each is checked against the chain and the checkpoints."""

    def __init__(
        self,
        checkpoints: list[Checkpoint],
        ledger_id: str,
        *,
        witnessing: bool = False,
        party_keys: PartyKeys | None = None,
    ) -> None:
        """Queue the checkpoints by size (stable: file order breaks ties, as the hub's)."""
        self._party_keys = party_keys
        self._receipts = 0
        self._unchecked: dict[str, int] = {}
        self._pending = sorted(checkpoints, key=lambda c: c.size)
        self._ledger_id = ledger_id
        self._witnessing = witnessing
        self._witnessed: tuple[int, tuple[str, ...]] = (0, ())
        self._notes = 0
        self._frontier = Frontier()
        self._last = GENESIS_HASH
        self._confirmed = 0
        self._matched = 0
        self._verdict: Verdict | None = None
        self.fed = 0
        if self._pending and all(c.problem == "sender.unknown" for c in self._pending):
            self._break(0, KEYS_MISMATCH, KEYS_MISMATCH_DETAIL)
        self._settle()

    @property
    def broken(self) -> bool:
        """Whether a break has been found (later rows are then ignored)."""
        return self._verdict is not None

    def _break(self, at: int, code: str, detail: str) -> None:
        size = self._frontier.size
        unchecked = tuple(sorted(self._unchecked.items()))
        self._verdict = Verdict(
            size,
            self._confirmed,
            self._matched,
            at,
            code,
            detail,
            receipts=self._receipts,
            receipts_unchecked=unchecked,
        )

    def _receipt(self, at: int, fields: dict[str, Any]) -> bool:
        """Check a receipt entry's signature; False (and broken) when it does not hold."""
        if "receipt" not in fields:
            return True
        found = receipt_check(fields, self._party_keys)
        if found == "invalid":
            detail = f"entry {at}: the recipient's signed receipt does not hold or says otherwise"
            self._break(at, RECEIPT_INVALID, detail)
            return False
        if found == "unchecked":
            party = fields["recipient"] or "?"
            self._unchecked[party] = self._unchecked.get(party, 0) + 1
        else:
            self._receipts += 1
        return True

    def feed(self, row: Row) -> None:
        """Check the next row: position, hash, canonical body, link, columns; then checkpoints."""
        at = self._frontier.size
        if self.broken:
            return
        self.fed += 1
        if row.seq != at:
            word = "missing" if row.seq > at else "repeated or out of order"
            self._break(at, SEQUENCE_GAP, f"entry {at} is {word}")
            return
        try:
            fields = parse_entry(row)
        except Break as found:
            self._break(at, found.code, found.detail)
            return
        mismatch = None if row.columns is None else column_problem(at, fields, row.columns)
        if fields["seq"] != at:
            self._break(at, SEQUENCE_GAP, f"entry {at} claims position {fields['seq']}")
        elif fields["prev_hash"] != self._last:
            self._break(at, CHAIN_BROKEN, f"entry {at} does not link to {at - 1}")
        elif mismatch is not None:
            self._break(at, *mismatch)
        elif self._receipt(at, fields):
            self._frontier.append(leaf_hash(row.body.encode("utf-8")))
            self._last = row.entry_hash
            self._settle()

    def _settle(self) -> None:
        while self._pending and self._pending[0].size <= self._frontier.size and not self.broken:
            self._check_tree(self._pending.pop(0))

    def _check_tree(self, checkpoint: Checkpoint) -> None:
        where = f"checkpoint at size {checkpoint.size}"
        claims = checkpoint.claims
        if claims is None:
            self._break(self._confirmed, CHECKPOINT_INVALID, f"{where}: {checkpoint.problem}")
        elif claims["ledger_id"] != self._ledger_id:
            self._break(self._confirmed, CHECKPOINT_INVALID, f"{where}: another ledger")
        elif (
            claims["root_hash"] != self._frontier.root().hex()
            or claims.get("last_entry_hash", self._last) != self._last
        ):
            self._break(self._confirmed, CHECKPOINT_MISMATCH, f"{where}: entries differ")
        else:
            self._confirmed = max(self._confirmed, checkpoint.size)
            if "last_entry_hash" in claims:
                self._matched += 1
            else:
                self._notes += 1
            if checkpoint.witnessed_by is not None and checkpoint.size >= self._witnessed[0]:
                self._witnessed = (checkpoint.size, checkpoint.witnessed_by)

    def finish(self) -> Verdict:
        """End the walk: a checkpoint beyond the last entry means entries are missing."""
        if not self.broken and self._pending:
            checkpoint = self._pending[0]
            if checkpoint.claims is None:
                problem = f"checkpoint at size {checkpoint.size}: {checkpoint.problem}"
                self._break(self._confirmed, CHECKPOINT_INVALID, problem)
            else:
                present = self._frontier.size
                detail = f"checkpoint covers {checkpoint.size} entries; {present} present"
                self._break(present, CHECKPOINT_MISMATCH, detail)
        size = self._frontier.size
        witnessed_size = self._witnessed[0] if self._witnessing else None
        return self._verdict or Verdict(
            size,
            self._confirmed,
            self._matched,
            witnessed_size=witnessed_size,
            witnesses=self._witnessed[1],
            notes=self._notes,
            receipts=self._receipts,
            receipts_unchecked=tuple(sorted(self._unchecked.items())),
        )


# --- The export file (docs/audit-verification.md) -------------------------------


def _fields(record: Any, names: dict[str, type | tuple[type, ...]], number: int) -> dict[str, Any]:
    if not isinstance(record, dict) or set(record) != {"type", *names}:
        raise InputError("export.malformed", f"line {number}: unexpected members")
    for name, kind in names.items():
        value: Any = record[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InputError("export.malformed", f"line {number}: {name} is not of its type")
        if isinstance(value, int) and value < 0:
            raise InputError("export.malformed", f"line {number}: {name} is negative")
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise InputError("export.malformed", f"line {number}: {name} holds a non-string")
    return record


def records(lines: Iterable[str]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield ``(line number, type, record)`` for each line of an export.

    Raises:
        InputError: ``export.malformed`` for a line that is not a JSON object.
    """
    for number, line in enumerate(lines, start=1):
        try:
            record = strict_loads(line)
        except MalformedError as error:
            raise InputError("export.malformed", f"line {number}: not JSON ({error})") from None
        kind = record.get("type") if isinstance(record, dict) else None
        if not isinstance(kind, str):
            raise InputError("export.malformed", f"line {number}: not an export record")
        yield number, kind, record


_TEXT_OR_NULL = (str, type(None))
_SHAPES: dict[str, dict[str, type | tuple[type, ...]]] = {
    EXPORT_TYPE: {"version": int, "ledger_id": str, "exported_at": str},
    "checkpoint": {"tree_size": int, "token": str},
    "note": {"tree_size": int, "note": str},
    "entry": {"seq": int, "entry_hash": str, "body": str},
    "end": {"entries": int, "checkpoints": int},
}
#: The end record of version 3 also counts the notes.
_END_3: dict[str, type | tuple[type, ...]] = {**_SHAPES["end"], "notes": int}
#: An entry record of version 2 also carries the columns stored beside the body.
_ENTRY_2: dict[str, type | tuple[type, ...]] = {
    **_SHAPES["entry"],
    "decision_id": _TEXT_OR_NULL,
    "event_id": _TEXT_OR_NULL,
    "recorded_at": _TEXT_OR_NULL,
    "terms": list,
}
#: The order records come in: one header, checkpoints, notes, entries, one end record.
_NEXT: dict[str | None, tuple[str, ...]] = {
    None: (EXPORT_TYPE,),
    EXPORT_TYPE: ("checkpoint", "note", "entry", "end"),
    "checkpoint": ("checkpoint", "note", "entry", "end"),
    "note": ("note", "entry", "end"),
    "entry": ("entry", "end"),
    "end": (),
}


def _shaped(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(type, record)`` in file order, checking each record's shape and place."""
    previous: str | None = None
    version = 0
    for number, kind, record in records(lines):
        if kind not in _NEXT[previous]:
            raise InputError("export.malformed", f"line {number}: a {kind!r} record out of place")
        if kind == "note" and version < 3:  # noqa: PLR2004 - notes came with version 3
            raise InputError("export.malformed", f"line {number}: a note before version 3")
        shape = _SHAPES[kind]
        if kind == "entry" and version >= 2:  # noqa: PLR2004
            shape = _ENTRY_2
        elif kind == "end" and version >= 3:  # noqa: PLR2004
            shape = _END_3
        fields = _fields(record, shape, number)
        if kind == EXPORT_TYPE:
            version = fields["version"]
            if version not in EXPORT_VERSIONS:
                raise InputError("export.malformed", "this export version is unknown")
        yield kind, fields
        previous = kind
    if previous != "end":
        raise InputError("export.incomplete", "no end record: the file was cut short")


def _columns(record: dict[str, Any]) -> Columns | None:
    """The stored columns an entry record of version 2 carries; None in version 1."""
    if "terms" not in record:
        return None
    return Columns(
        record["decision_id"], record["event_id"], record["recorded_at"], frozenset(record["terms"])
    )


def read_export(  # noqa: PLR0913, PLR0917 - the export, its trust anchors and the clock
    lines: Iterable[str],
    extra_tokens: list[str],
    keys: dict[str, HubKey],
    now: float,
    policy: Policy | None = None,
    party_keys: PartyKeys | None = None,
) -> Verdict:
    """Stream an export through the verifier: header, checkpoints, entries, end.

    Stops at the first break, as the hub does; a file that ends early or whose end
    record disagrees with what came before is an input error, not a verdict.

    Raises:
        InputError: ``export.malformed`` or ``export.incomplete``.
    """
    ledger_id, verifier = "", None
    tokens: list[str] = []
    notes: list[str] = []
    for kind, fields in _shaped(lines):
        if kind == EXPORT_TYPE:
            ledger_id = fields["ledger_id"]
            continue
        if kind == "checkpoint":
            tokens.append(fields["token"])
            continue
        if kind == "note":
            notes.append(fields["note"])
            continue
        if verifier is None:  # the first entry or the end: every checkpoint is known
            kept = tokens + notes + extra_tokens
            checked = [verify_kept(t, keys, now, policy) for t in kept]
            verifier = Verifier(
                checked,
                ledger_id,
                witnessing=policy is not None,
                party_keys=party_keys or load_party_keys([], keys),
            )
        if kind == "entry":
            verifier.feed(
                Row(fields["seq"], fields["body"], fields["entry_hash"], _columns(fields))
            )
            if verifier.broken:
                return verifier.finish()
        elif (fields["entries"], fields["checkpoints"], fields.get("notes", 0)) != (
            verifier.fed,
            len(tokens),
            len(notes),
        ):
            raise InputError("export.incomplete", "the end record does not match the file")
    if verifier is None:
        raise InputError("export.incomplete", "no end record: the file was cut short")
    return verifier.finish()


def render(verdict: Verdict) -> list[str]:
    """The lines printed for a verdict, as ``hub audit verify`` prints them."""
    if verdict.code == KEYS_MISMATCH:
        return [f"not verified: {verdict.code}", verdict.detail]
    if verdict.code is not None:
        return [f"broken at entry {verdict.broken_at}: {verdict.code}", verdict.detail]
    lines = [f"intact: {verdict.entries} entries, checkpoint at size {verdict.checkpoint_size}"]
    if verdict.checkpoint_size < verdict.entries:
        unsigned = verdict.entries - verdict.checkpoint_size
        lines.append(f"{unsigned} newest entries are chained but not yet in a signed checkpoint")
    if verdict.witnessed_size is not None:
        lines.extend(witness_lines(verdict.entries, verdict.witnessed_size, verdict.witnesses))
    if verdict.receipts:
        lines.append(f"receipts: {verdict.receipts} signed by their recipients, each checked")
    lines.extend(
        f"{count} receipt{'' if count == 1 else 's'} of {party} not checked:"
        f" the keys given hold none of {party}'s"
        for party, count in verdict.receipts_unchecked
    )
    return lines


def witness_lines(entries: int, size: int, witnesses: tuple[str, ...]) -> list[str]:
    """What a verdict says of witnesses, as ``hub audit verify`` says it."""
    if size == 0:
        return ["not witnessed: no checkpoint note is cosigned by the policy's quorum"]
    lines = [f"witnessed: checkpoint at size {size}, cosigned by {', '.join(witnesses)}"]
    if size < entries:
        lines.append(f"{entries - size} newest entries are not yet witnessed")
    return lines


def settled(verdict: Verdict) -> bool:
    """Intact, and witnessed when a policy asked (a ledger with no entries needs none)."""
    unwitnessed = verdict.witnessed_size == 0 and verdict.entries > 0
    return verdict.code is None and not unwitnessed


def _read_tokens(paths: list[str]) -> list[str]:
    """Checkpoints kept outside the hub: a JWS, or a note (kept to its last newline)."""
    tokens = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", newline="\n") as handle:  # noqa: PTH123
                text = handle.read()
                tokens.append(text if "\n" in text.strip() else text.strip())
        except (OSError, UnicodeDecodeError) as error:
            raise InputError("checkpoint.unreadable", f"{path}: {type(error).__name__}") from None
    return tokens


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Verify an exported hub ledger (hub audit export) with the hub's public keys."
    )
    parser.add_argument("export", nargs="?", help="the file `hub audit export` wrote")
    parser.add_argument(
        "--proof",
        help="instead of an export, check one disclosure's proof (`hub audit proof` wrote it)",
    )
    parser.add_argument("--keys", required=True, help="the hub's public JWK Set, hub.jwks.json")
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        help="a checkpoint kept outside the hub: a file holding its JWS, or a checkpoint"
        " note such as a witness's latest; repeatable",
    )
    parser.add_argument(
        "--party-keys",
        action="append",
        default=[],
        help="a party's public JWK Set (<party>.jwks.json): check the receipts it signed;"
        " repeatable",
    )
    parser.add_argument(
        "--witness-policy",
        help="a witness policy (C2SP tlog-policy): report what a quorum of its witnesses"
        " cosigned, and fail when nothing is",
    )
    return parser.parse_args(argv)


def _open_export(path: str | None) -> IO[str]:
    if path is None:
        raise InputError("usage.invalid", "give an export file, or --proof FILE")
    try:
        return open(path, encoding="utf-8", newline="\n")  # noqa: PTH123 - see load_hub_keys
    except OSError as error:
        raise InputError("export.unreadable", f"{path}: {error.strerror}") from None


def _check_proof_file(path: str, keys: dict[str, HubKey], policy: Policy | None) -> int:
    try:
        with open(path, encoding="utf-8", newline="\n") as handle:  # noqa: PTH123
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError("proof.unreadable", f"{path}: {type(error).__name__}") from None
    try:
        lines = check_proof(text, keys, policy)
    except RefusedError as error:
        sys.stdout.write(f"not proven: {error}\n")
        return EXIT_BROKEN
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return EXIT_INTACT


def main(argv: list[str] | None = None) -> int:
    """Verify; print the verdict; return 0 intact, 1 broken, 2 for an input error."""
    args = _arguments(argv)
    try:
        keys = load_hub_keys(args.keys)
        extra = _read_tokens(args.checkpoint)
        policy = load_policy(args.witness_policy) if args.witness_policy else None
        if args.proof is not None:
            return _check_proof_file(args.proof, keys, policy)
        parties = load_party_keys([args.keys, *args.party_keys], keys)  # the hub's of any use
        with _open_export(args.export) as handle:
            verdict = read_export(handle, extra, keys, time.time(), policy, parties)
    except InputError as error:
        sys.stderr.write(f"error {error.code}: {error.detail}\n")
        return EXIT_INPUT
    except (OSError, UnicodeDecodeError) as error:
        sys.stderr.write(f"error export.unreadable: {type(error).__name__}\n")
        return EXIT_INPUT
    sys.stdout.write("".join(f"{line}\n" for line in render(verdict)))
    return EXIT_INTACT if settled(verdict) else EXIT_BROKEN


if __name__ == "__main__":
    sys.exit(main())

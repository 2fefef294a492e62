"""The tamper-evident ledger of ARCHITECTURE section 6: who saw what, when and why.

Entries (:class:`EntryDraft` in, :class:`LedgerEntry` out) are RFC 8785 canonical
JSON, chained by hash and leaves of an RFC 9162 Merkle tree whose head the hub
signs at intervals. :class:`Ledger` appends with group commit and is idempotent by
decision id; :mod:`hub.ledger.verify` checks a ledger with public keys only.
Stores: SQLite (embedded) and PostgreSQL (several workers), one protocol.
"""

from hub.ledger.base import (
    Cosignature,
    ErrorCode,
    LedgerError,
    LedgerStore,
    StoredCheckpoint,
    StoredEntry,
)
from hub.ledger.chain import leaf_of
from hub.ledger.checkpoints import DEFAULT_ORIGIN, CheckpointPolicy, LogName
from hub.ledger.entries import (
    CASE_PSEUDONYM,
    PERSON_PSEUDONYM,
    Criteria,
    EntryDraft,
    EntryKind,
    GrantRecord,
    Group,
    Label,
    LedgerEntry,
    PersonInEvent,
    ReceiptRecord,
    ReceivedItem,
    ReleaseRecord,
    WithheldGroup,
)
from hub.ledger.export import ExportSummary, write_export
from hub.ledger.merkle import (
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from hub.ledger.proofs import ProofError, ProvenEntry, check_proof, disclosure_proof
from hub.ledger.pseudonyms import Pseudonymizer, generate_ledger_key, load_ledger_key
from hub.ledger.reports import (
    REPORT_NOTE,
    ROLE_WORDS,
    Report,
    annex_rows,
    build_report,
    released_rows,
)
from hub.ledger.search import DEFAULT_LIMIT, MAX_LIMIT, SearchPage, SearchQuery
from hub.ledger.service import EventClaim, Ledger, LedgerConfig, open_ledger
from hub.ledger.stores import open_store, store_for_url
from hub.ledger.tiles import TreeTiles
from hub.ledger.verify import VerifyReport, verify_ledger, verify_store
from hub.safejson import canonical

__all__ = [
    "CASE_PSEUDONYM",
    "DEFAULT_LIMIT",
    "DEFAULT_ORIGIN",
    "MAX_LIMIT",
    "PERSON_PSEUDONYM",
    "REPORT_NOTE",
    "ROLE_WORDS",
    "CheckpointPolicy",
    "Cosignature",
    "Criteria",
    "EntryDraft",
    "EntryKind",
    "ErrorCode",
    "EventClaim",
    "ExportSummary",
    "GrantRecord",
    "Group",
    "Label",
    "Ledger",
    "LedgerConfig",
    "LedgerEntry",
    "LedgerError",
    "LedgerStore",
    "LogName",
    "PersonInEvent",
    "ProofError",
    "ProvenEntry",
    "Pseudonymizer",
    "ReceiptRecord",
    "ReceivedItem",
    "ReleaseRecord",
    "Report",
    "SearchPage",
    "SearchQuery",
    "StoredCheckpoint",
    "StoredEntry",
    "TreeTiles",
    "VerifyReport",
    "WithheldGroup",
    "annex_rows",
    "build_report",
    "canonical",
    "check_proof",
    "consistency_proof",
    "disclosure_proof",
    "generate_ledger_key",
    "inclusion_proof",
    "leaf_of",
    "load_ledger_key",
    "open_ledger",
    "open_store",
    "released_rows",
    "store_for_url",
    "verify_consistency",
    "verify_inclusion",
    "verify_ledger",
    "verify_store",
    "write_export",
]

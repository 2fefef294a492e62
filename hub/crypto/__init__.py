"""The only room that touches key material: seal, open, sign, verify, and the key directory.

Nothing outside ``hub.crypto`` imports ``cryptography`` or ``joserfc``. Callers use
the recipe-level functions re-exported here and handle one error type,
:class:`~hub.crypto.base.EnvelopeError`, whose ``code`` is stable and documented
in ``docs/envelope.md``.
"""

from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.checkpoint import sign_checkpoint, verify_checkpoint
from hub.crypto.envelope import (
    HUB_PARTY,
    DecisionHeader,
    Delivery,
    Issuance,
    issue_event,
    open_delivery,
    open_ingress,
    present,
)
from hub.crypto.keys import (
    KeyDirectory,
    KeyFileError,
    KeyRecord,
    PartyKeyring,
    add_keys,
    generate_party_keys,
    load_keyring,
    save_directory,
    save_keyring,
)
from hub.crypto.note import (
    COSIGNATURE,
    ED25519,
    MLDSA_COSIGNATURE,
    Checkpoint,
    NoteError,
    NoteSigner,
    NoteVerifier,
    log_signer,
    log_verifiers,
    open_note,
    sign_note,
)
from hub.crypto.notice import RefusalNotice, notice_message_id, open_notice, seal_notice
from hub.crypto.quorum import PolicyError, Witness, WitnessPolicy
from hub.crypto.record import (
    Receipt,
    ReleaseNotice,
    SignedRecord,
    open_receipt,
    open_record,
    open_release,
    seal_receipt,
    seal_record,
    seal_release,
    verify_record,
)
from hub.crypto.tls import CA_DAYS, LEAF_DAYS, init_tls, issue_clients, server_ssl_context

__all__ = [
    "CA_DAYS",
    "COSIGNATURE",
    "ED25519",
    "HUB_PARTY",
    "LEAF_DAYS",
    "MLDSA_COSIGNATURE",
    "Checkpoint",
    "DecisionHeader",
    "Delivery",
    "EnvelopeError",
    "ErrorCode",
    "Issuance",
    "KeyDirectory",
    "KeyFileError",
    "KeyRecord",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "PartyKeyring",
    "PolicyError",
    "Receipt",
    "RefusalNotice",
    "ReleaseNotice",
    "SignedRecord",
    "Witness",
    "WitnessPolicy",
    "add_keys",
    "generate_party_keys",
    "init_tls",
    "issue_clients",
    "issue_event",
    "load_keyring",
    "log_signer",
    "log_verifiers",
    "notice_message_id",
    "open_delivery",
    "open_ingress",
    "open_note",
    "open_notice",
    "open_receipt",
    "open_record",
    "open_release",
    "present",
    "save_directory",
    "save_keyring",
    "seal_notice",
    "seal_receipt",
    "seal_record",
    "seal_release",
    "server_ssl_context",
    "sign_checkpoint",
    "sign_note",
    "verify_checkpoint",
    "verify_record",
]

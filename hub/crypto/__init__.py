"""The only room that touches key material: seal, open, sign, verify, and the key directory.

Nothing outside ``hub.crypto`` imports ``cryptography`` or ``joserfc``. Callers use
the recipe-level functions re-exported here and handle one error type,
:class:`~hub.crypto.base.EnvelopeError`, whose ``code`` is stable and documented
in ``docs/envelope.md``.
"""

from hub.crypto.base import EnvelopeError, ErrorCode
from hub.crypto.envelope import (
    DecisionHeader,
    Delivery,
    Issuance,
    issue_event,
    open_delivery,
    open_ingress,
    present,
)
from hub.crypto.keys import KeyDirectory, KeyRecord, PartyKeyring, generate_party_keys

__all__ = [
    "DecisionHeader",
    "Delivery",
    "EnvelopeError",
    "ErrorCode",
    "Issuance",
    "KeyDirectory",
    "KeyRecord",
    "PartyKeyring",
    "generate_party_keys",
    "issue_event",
    "open_delivery",
    "open_ingress",
    "present",
]

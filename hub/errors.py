"""The one error model: every error the project reports has a stable code.

Each room raises its own subclass of :class:`HubError` (``EnvelopeError``,
``LedgerError``, ``BrokerError``, ``PolicyError``, ``SchemaError``, ...), with a
``code`` from ``docs/`` and a ``detail`` that names ids, positions, settings and
parts, never content: an error may be logged, printed or sent to a sender, and the
input may hold a victim's address. Callers that only report an error catch
``HubError`` and use :meth:`HubError.diagnostics` (the command line prints
``error <code>: <detail>``); callers that act on an error catch the room's class and
branch on its code. sigstore-python's ``sigstore.errors`` is the model.

:class:`RefusalCode` holds every reason the hub refuses a message for
(ARCHITECTURE section 8 and the tables of ``docs/envelope.md``); a test holds the
three in agreement.

This module imports nothing of the project: every room may import it.
"""

from __future__ import annotations

import enum
from typing import Any


class HubError(Exception):
    """An error with a stable ``code`` and a content-free ``detail``.

    Attributes:
        code: the stable reason code (``room.reason``).
        detail: which setting, id, position or part failed; never content.
    """

    code: str
    detail: str

    def __init__(self, code: str, detail: str) -> None:
        """Make an error with a stable ``code``; ``detail`` must hold no content."""
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    def diagnostics(self) -> dict[str, Any]:
        """Return the machine-readable form, for logs, notices and command output."""
        return {"code": str(self.code), "detail": self.detail}


class RefusalCode(enum.StrEnum):
    """Every reason the hub refuses a message (ARCHITECTURE section 8, docs/envelope.md)."""

    PAYLOAD_TOO_LARGE = "payload.too_large"
    ENVELOPE_MALFORMED = "envelope.malformed"
    ALGORITHM_NOT_ALLOWED = "algorithm.not_allowed"
    ENVELOPE_UNDECRYPTABLE = "envelope.undecryptable"
    KEY_NOT_VALID = "key.not_valid"
    SENDER_UNKNOWN = "sender.unknown"
    SIGNATURE_INVALID = "signature.invalid"
    DISCLOSURE_MISMATCH = "disclosure.mismatch"
    BINDING_INVALID = "binding.invalid"
    CLOCK_SKEW = "clock.skew"
    SCHEMA_INVALID = "schema.invalid"
    SCHEMA_UNKNOWN_TYPE = "schema.unknown_type"
    SCHEMA_UNKNOWN_VERSION = "schema.unknown_version"
    SENDER_MISMATCH = "sender.mismatch"
    SENDER_NOT_ENTITLED = "sender.not_entitled"
    EVENT_REPLAYED = "event.replayed"
    #: A receipt for a delivery the hub did not make to its signer (issue 23).
    RECEIPT_NOT_DELIVERED = "receipt.not_delivered"
    #: A delivery receipt whose retention end is not the one the delivery's
    #: obligations set (ADR 0030).
    RECEIPT_RETENTION_MISMATCH = "receipt.retention_mismatch"
    MESSAGE_UNPROCESSABLE = "message.unprocessable"
    #: Not a refusal of a sender's message: a delivery its recipient rejected,
    #: recorded once the hub finds it in the quarantine; no notice is sent.
    DELIVERY_REJECTED = "delivery.rejected"

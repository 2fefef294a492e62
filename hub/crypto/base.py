"""Error type, stable error codes and the algorithm allow-list of the crypto room.

Every failure to open or verify an envelope raises :class:`EnvelopeError` with one
:class:`ErrorCode`. Messages name parts of the format (a header, a claim, a
disclosure's position), never content: an error may be logged, quarantined and
sent back to the sender, and must carry no personal data.
"""

from __future__ import annotations

import enum
from typing import Final

from hub.errors import HubError, RefusalCode


class ErrorCode(enum.StrEnum):
    """Stable, documented reasons an envelope is refused (docs/envelope.md).

    Each is a :class:`~hub.errors.RefusalCode`, which holds the codes' text.
    """

    MALFORMED = RefusalCode.ENVELOPE_MALFORMED.value
    TOO_LARGE = RefusalCode.PAYLOAD_TOO_LARGE.value
    ALGORITHM = RefusalCode.ALGORITHM_NOT_ALLOWED.value
    UNDECRYPTABLE = RefusalCode.ENVELOPE_UNDECRYPTABLE.value
    SIGNATURE = RefusalCode.SIGNATURE_INVALID.value
    SENDER_UNKNOWN = RefusalCode.SENDER_UNKNOWN.value
    KEY_NOT_VALID = RefusalCode.KEY_NOT_VALID.value
    DISCLOSURE = RefusalCode.DISCLOSURE_MISMATCH.value
    BINDING = RefusalCode.BINDING_INVALID.value
    CLOCK_SKEW = RefusalCode.CLOCK_SKEW.value


class EnvelopeError(HubError):
    """An envelope could not be opened or verified.

    Attributes:
        code: the stable reason code.
        detail: a short description of which part failed; never content.
    """

    def __init__(self, code: ErrorCode, detail: str) -> None:
        """Make an error with a stable ``code`` and a content-free ``detail``."""
        super().__init__(code, detail)
        self.code: ErrorCode = code


#: JWS algorithm for every signature: EdDSA over Ed25519, fully specified (RFC 9864).
SIGNING_ALG: Final = "Ed25519"
#: JWE key management: ECDH-ES over X25519 (RFC 8037) with AES-256 key wrap.
KEY_ALG: Final = "ECDH-ES+A256KW"
#: JWE content encryption.
CONTENT_ALG: Final = "A256GCM"
#: The one digest algorithm for disclosures (RFC 9901 section 4.1.1).
SD_ALG: Final = "sha-256"

#: `typ` of the issuer-signed JWT and of the Key Binding JWT (RFC 9901 section 4.3).
ISSUANCE_TYP: Final = "case-event+sd-jwt"
KB_TYP: Final = "kb+jwt"
#: `cty` of a JWE whose plaintext is an SD-JWT (media type application/sd-jwt).
SD_JWT_CTY: Final = "sd-jwt"
#: `cty` of a JWE whose plaintext is a signed JWT notice.
NOTICE_CTY: Final = "JWT"
#: `typ` of a refusal notice.
NOTICE_TYP: Final = "refusal-notice+jwt"
#: ``typ`` of an evaluation record the hub signs (sealed with ``cty`` :data:`NOTICE_CTY`).
RECORD_TYP: Final = "evaluation-record+jwt"
#: ``typ`` of a release notice the evaluator signs and seals to a hub.
RELEASE_TYP: Final = "evaluation-release+jwt"
#: A recipient's signed receipt for deliveries it verified and kept (issue 23).
RECEIPT_TYP: Final = "delivery-receipt+jwt"
#: A recipient's signed receipt for deliveries it erased at their retention end.
ERASURE_TYP: Final = "erasure-receipt+jwt"
#: The most deliveries one receipt covers.
MAX_RECEIPT_ITEMS: Final = 256

#: Largest envelope accepted, in characters of the compact serialization.
MAX_ENVELOPE_CHARS: Final = 256 * 1024
#: Clock skew tolerated on `iat` claims.
MAX_CLOCK_SKEW_SECONDS: Final = 300

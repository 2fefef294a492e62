"""A detect-secrets plugin for private JWKs, loaded through `.secrets.baseline`.

detect-secrets knows PEM private keys but not a JWK's private member ``"d"``
(RFC 7518 sections 6.2.2.1 and 6.3.2.1, RFC 8037 section 2): it only sees the value as a
high-entropy string, and not at all when the entropy falls under its limit.
The hub's keys are JWKs, so a private one is named here whatever its entropy.
The baseline names this file by a path relative to the repository root, so the
pre-commit hook and ``tests/test_secrets.py`` both run from there.
"""

import re
from typing import ClassVar

from detect_secrets.plugins.base import RegexBasedDetector


class PrivateJwkDetector(RegexBasedDetector):
    """Finds the private member ``"d"`` of a JWK, in JSON, Python or escaped JSON text."""

    # The findings' label, which ruff's S105 and detect-secrets' keyword rule take for a password.
    secret_type = "Private JWK"  # noqa: S105  # pragma: allowlist secret

    # 20 base64url characters is shorter than any real key's "d" (Ed25519 and X25519 have 43),
    # long enough that an ordinary short "d" field is not a key.
    denylist: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"""\\?["']d\\?["']\s*:\s*\\?["']([A-Za-z0-9_-]{20,})"""),
    )

"""The party id: one pattern for every agency, hub and evaluator the project names.

A party id appears in queue names (``agency.<id>.inbox``), routing keys, key files
(``<id>.jwks.json``), broker user names, agreements and ledger entries, so it is
short, lower case and safe in every one of them. Every check of a party id in the
project uses :data:`PARTY_PATTERN` (as text, for JSON Schema and pydantic),
:data:`PARTY_ID` (compiled) or :data:`PartyId` (the pydantic type).
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import StringConstraints

#: 2 to 32 of a-z, 0-9 and -, starting with a letter.
PARTY_PATTERN: Final = r"^[a-z][a-z0-9-]{1,31}$"
#: :data:`PARTY_PATTERN`, compiled.
PARTY_ID: Final = re.compile(PARTY_PATTERN)
#: A party id, as a pydantic type.
PartyId = Annotated[str, StringConstraints(pattern=PARTY_PATTERN)]
#: No party id starts with this: the routing keys ``region-<name>`` name regions
#: (ADR 0010), so a party called so could receive another region's traffic.
REGION_PREFIX: Final = "region-"

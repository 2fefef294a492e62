"""Roles, the route declaration type and the console's errors with stable codes."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final, Literal

from hub.errors import HubError


class Role(enum.StrEnum):
    """What a token may do; each route names the roles it admits."""

    AGENCY = "agency"
    IG_OFFICER = "ig_officer"
    OPERATOR = "operator"
    ADMIN = "admin"


#: Who runs the hub: health, metrics, queues, quarantine.
OPERATIONS: Final = frozenset({Role.OPERATOR, Role.ADMIN})
#: Who answers for the sharing: ledger search, disclosures, subject access, agreements.
GOVERNANCE: Final = frozenset({Role.IG_OFFICER, Role.ADMIN})


@dataclass(frozen=True)
class Param:
    """One path or query parameter of a route, as the OpenAPI document states it.

    Attributes:
        name: the parameter's name.
        location: ``path`` (always required) or ``query``.
        schema: its JSON Schema: as tight as the handler's own check, so that any
            value the schema admits is one the handler accepts.
        required: whether a query parameter must be given.
        description: one line for the document.
    """

    name: str
    location: Literal["path", "query"]
    schema: dict[str, Any]
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Route:
    """One console endpoint, declared as data.

    Attributes:
        name: the route's id, also its OpenAPI ``operationId``.
        method: the HTTP method.
        path: the URL path.
        summary: one line for the OpenAPI document.
        roles: the roles admitted; empty for a public route (served without auth).
        statuses: the status codes the handler itself answers with, besides 401/403.
        media_type: the media type of a successful answer.
        alternatives: other media types a successful answer may take (a report
            asked for as CSV, say).
        example: a concrete URL (path and query) the role-matrix test requests,
            for routes with path parameters or required query parameters; the
            path itself when None.
        parameters: the path and query parameters, for the OpenAPI document.
        body: the JSON Schema of a JSON request body, or None for none.
        session: served to a signed-in browser (its session cookie) rather than to a
            bearer token, as pages are: a page's own pictures.
    """

    name: str
    method: str
    path: str
    summary: str
    roles: frozenset[Role]
    statuses: tuple[int, ...] = (200,)
    media_type: str = "application/json"
    alternatives: tuple[str, ...] = ()
    example: str | None = None
    parameters: tuple[Param, ...] = ()
    body: dict[str, Any] | None = None
    session: bool = False

    @property
    def sample_url(self) -> str:
        """The URL the role-matrix test requests: :attr:`example`, else the path."""
        return self.example or self.path

    @property
    def public(self) -> bool:
        """Whether the route is served without a token."""
        return not self.roles


class ConsoleError(HubError):
    """A console operation failed for a reason the user can act on.

    Attributes:
        code: the stable reason code (``tokens.*``, ``console.*``).
        detail: which part failed; never a token, a hash or personal data.
    """

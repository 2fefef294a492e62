"""Every console endpoint and the roles allowed on it: one table, read by all.

The core routes are declared here; each feature module (governance, operations,
agreements, and the pages: core, governance, operations) declares its own
``ROUTES`` and ``HANDLERS``, and :data:`ROUTES` joins them, so the table stays one.

The auth middleware admits a request only if its token's role is in the route's
``roles``; :mod:`hub.console.openapi` describes exactly these routes; the tests
walk every role against every route. A route added anywhere else is served to
nobody, because the middleware finds no entry for it (see ``auth``).
"""

from __future__ import annotations

from typing import Final

from hub.console import (
    agreements,
    duties,
    evaluation,
    governance,
    operations,
    pages,
    pages_governance,
    pages_operations,
    subject_access,
)
from hub.console.base import GOVERNANCE, OPERATIONS, Route

CORE_ROUTES: Final = (
    Route("openapi", "GET", "/openapi.json", "This API's OpenAPI 3.1 document", frozenset()),
    Route("health", "GET", "/api/health", "Liveness: the console process answers", OPERATIONS),
    Route(
        "ready",
        "GET",
        "/api/ready",
        "Readiness: broker, ledger, checkpoint age, keys and agreements coming due",
        OPERATIONS,
        statuses=(200, 503),
    ),
    Route(
        "ledger_status",
        "GET",
        "/api/ledger/status",
        "Ledger verification result and the latest signed checkpoint",
        GOVERNANCE,
        statuses=(200, 503),
    ),
    Route(
        "metrics",
        "GET",
        "/metrics",
        "Prometheus metrics (text exposition format)",
        OPERATIONS,
        media_type="text/plain",
    ),
)
FEATURES: Final = (
    governance,
    duties,
    subject_access,
    operations,
    agreements,
    evaluation,
    pages,
    pages_governance,
    pages_operations,
)
ROUTES: Final = CORE_ROUTES + tuple(route for feature in FEATURES for route in feature.ROUTES)
FEATURE_HANDLERS: Final = {
    name: handler for feature in FEATURES for name, handler in feature.HANDLERS.items()
}
ROUTES_BY_NAME: Final = {route.name: route for route in ROUTES}

"""Browser sessions for the console's pages: server-side, short-lived, with CSRF tokens.

A person signs in by pasting their console token into the login form once. The
console checks it, then keeps a session on the server and gives the browser only
a random session id in a cookie (HttpOnly, SameSite=Strict, Path=/, Secure over
TLS). The token itself never goes into a cookie, a URL, a log line or a page.

- A session ends after :data:`LIFETIME` whatever happens, after :data:`IDLE` without
  a request, on logout, and as soon as its token is revoked or changes role (the
  token record is checked against the token store on every request).
- The store keeps SHA-256 digests of session ids, not the ids, and holds at most
  :data:`MAX_SESSIONS` (the least recently used goes first).
- Every state-changing form carries the session's CSRF token (a second random
  value, compared in constant time). The login form, before any session exists,
  carries an HMAC of a random cookie under a per-process key, so another site
  cannot sign a browser in to a session of its choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from aiohttp import web

if TYPE_CHECKING:
    from datetime import datetime

    from hub.console.tokens import TokenRecord, TokenSource

#: A session ends this long after sign-in, however busy.
LIFETIME: Final = timedelta(hours=8)
#: A session ends after this long without a request.
IDLE: Final = timedelta(minutes=30)
#: How long a login form stays usable.
LOGIN_FORM: Final = timedelta(minutes=15)
#: At most this many live sessions; signing in beyond it ends the least recently used.
MAX_SESSIONS: Final = 1000
#: The form field of every CSRF token.
CSRF_FIELD: Final = "csrf_token"
_COOKIE: Final = "hub-session"
# Browsers accept the __Host- prefix only with Secure, Path=/ and no Domain: over TLS.
_SECURE_COOKIE: Final = "__Host-hub-session"
_LOGIN_COOKIE: Final = "hub-login"
_SECURE_LOGIN_COOKIE: Final = "__Host-hub-login"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Session:
    """One signed-in browser: whose token, since when, and its CSRF token.

    Attributes:
        key: the SHA-256 of the session id (the id itself is only in the cookie).
        record: the token record the person signed in with (name, role, hash).
        csrf: the CSRF token every state-changing form of this session carries.
        created: when the person signed in.
        seen: the time of the latest request.
    """

    key: str
    record: TokenRecord
    created: datetime
    seen: datetime
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def alive(self, at: datetime) -> bool:
        """Whether the session is within its lifetime and idle timeout at ``at``."""
        return at < self.created + LIFETIME and at < self.seen + IDLE

    def csrf_ok(self, presented: str | None) -> bool:
        """Whether ``presented`` is this session's CSRF token (constant time)."""
        return presented is not None and hmac.compare_digest(presented, self.csrf)


class SessionStore:
    """The live sessions of one console process, in memory.

    Sessions do not survive a restart: people sign in again, which is the safe
    failure. One store per application (see :func:`hub.console.auth.auth_middleware`).
    """

    def __init__(self) -> None:
        """Start empty, with a fresh key for login-form tokens."""
        self._sessions: dict[str, Session] = {}
        self._form_key = secrets.token_bytes(32)

    def __len__(self) -> int:
        """The number of sessions held (live or not yet pruned)."""
        return len(self._sessions)

    def create(self, record: TokenRecord, at: datetime) -> tuple[str, Session]:
        """Start a session for ``record``; return the new id (for the cookie) and it."""
        self._prune(at)
        while len(self._sessions) >= MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.seen)
            del self._sessions[oldest.key]
        session_id = secrets.token_urlsafe(32)
        session = Session(_digest(session_id), record, at, at)
        self._sessions[session.key] = session
        return session_id, session

    def find(self, session_id: str, at: datetime, tokens: TokenSource) -> Session | None:
        """The live session of ``session_id``, touched at ``at``; None (and ended) otherwise.

        A session whose token was revoked or changed role since sign-in ends here.
        """
        session = self._sessions.get(_digest(session_id))
        if session is None:
            return None
        if not session.alive(at) or session.record not in tokens.current().records:
            self.end(session)
            return None
        session.seen = at
        return session

    def end(self, session: Session) -> None:
        """End ``session`` (logout, expiry or revocation)."""
        self._sessions.pop(session.key, None)

    def _prune(self, at: datetime) -> None:
        for session in [s for s in self._sessions.values() if not s.alive(at)]:
            self.end(session)

    def login_token(self, nonce: str) -> str:
        """The login form's CSRF token for the login cookie ``nonce``."""
        return hmac.new(self._form_key, nonce.encode(), hashlib.sha256).hexdigest()

    def login_ok(self, nonce: str | None, presented: str | None, at: datetime) -> bool:
        """Whether ``presented`` is the token of the login cookie ``nonce``, issued lately.

        The nonce starts with its issue time (see :func:`new_login_nonce`): a form
        older than :data:`LOGIN_FORM` is refused whatever the cookie's own expiry.
        """
        if not nonce or not presented:
            return False
        if not hmac.compare_digest(self.login_token(nonce), presented):
            return False
        issued, _, _ = nonce.partition(".")
        return issued.isdigit() and 0 <= at.timestamp() - int(issued) <= LOGIN_FORM.total_seconds()


def cookie_name(request: web.Request, *, login: bool = False) -> str:
    """The session (or login) cookie's name: ``__Host-`` prefixed over TLS."""
    if login:
        return _SECURE_LOGIN_COOKIE if request.secure else _LOGIN_COOKIE
    return _SECURE_COOKIE if request.secure else _COOKIE


def session_id_of(request: web.Request) -> str | None:
    """The session id the browser sent, if any."""
    return request.cookies.get(cookie_name(request)) or None


def set_cookie(
    request: web.Request, response: web.StreamResponse, value: str, *, login: bool = False
) -> None:
    """Set the session (or login) cookie: HttpOnly, SameSite=Strict, Path=/, Secure over TLS."""
    lifetime = LOGIN_FORM if login else LIFETIME
    response.set_cookie(
        cookie_name(request, login=login),
        value,
        max_age=int(lifetime.total_seconds()),
        path="/",
        secure=request.secure,
        httponly=True,
        samesite="Strict",
    )


def clear_cookie(
    request: web.Request, response: web.StreamResponse, *, login: bool = False
) -> None:
    """Tell the browser to forget the session (or login) cookie."""
    response.del_cookie(
        cookie_name(request, login=login),
        path="/",
        secure=request.secure,
        httponly=True,
        samesite="Strict",
    )


def new_login_nonce(at: datetime) -> str:
    """A fresh random value for the login cookie, prefixed with its issue time ``at``."""
    return f"{int(at.timestamp())}.{secrets.token_urlsafe(32)}"


SESSIONS: Final = web.RequestKey("sessions", SessionStore)
SESSION: Final = web.RequestKey("session", Session)

"""Choosing a store from a ledger URL: ``sqlite:///FILE`` or ``postgresql://...``.

``sqlite:///`` is followed by the file's path, relative to the working folder, or
absolute with a fourth slash: ``sqlite:///hub-ledger.db``,
``sqlite:////var/lib/hub/ledger.db``. ``postgresql://`` (or ``postgres://``) URLs
go to asyncpg as they are.
"""

from __future__ import annotations

from typing import Final

from hub.ledger.base import ErrorCode, LedgerError, LedgerStore
from hub.ledger.postgres import PostgresStore
from hub.ledger.sqlite import SqliteStore

SQLITE_PREFIX: Final = "sqlite:///"
POSTGRES_PREFIXES: Final = ("postgresql://", "postgres://")


def store_for_url(url: str, *, read_only: bool = False, schema: str | None = None) -> LedgerStore:
    """Make (but do not open) the store a ledger URL names.

    Args:
        url: ``sqlite:///FILE`` or ``postgresql://...``.
        read_only: open for reading only (audits).
        schema: PostgreSQL only: the schema to keep the ledger in.

    Raises:
        LedgerError: ``ledger.url_invalid`` for any other URL. The detail never
            repeats the URL, which may hold a password.
    """
    if url.startswith(SQLITE_PREFIX) and len(url) > len(SQLITE_PREFIX):
        if schema is not None:
            raise LedgerError(ErrorCode.URL_INVALID, "a schema applies to PostgreSQL only")
        return SqliteStore(url.removeprefix(SQLITE_PREFIX), read_only=read_only)
    if url.startswith(POSTGRES_PREFIXES):
        return PostgresStore(url, schema=schema, read_only=read_only)
    raise LedgerError(ErrorCode.URL_INVALID, "ledger URL must be sqlite:///FILE or postgresql://")


async def open_store(
    url: str, *, read_only: bool = False, schema: str | None = None
) -> LedgerStore:
    """Make and open the store a ledger URL names (see :func:`store_for_url`).

    Raises:
        LedgerError: ``ledger.url_invalid`` or ``ledger.unavailable``.
    """
    store = store_for_url(url, read_only=read_only, schema=schema)
    await store.open()
    return store

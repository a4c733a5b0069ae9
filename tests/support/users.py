"""People who sign in at the gateway: users added to its store, each with a browser of their own.

A user is added straight to the store the gateway runs on (as ``mcp-gateway users add`` would);
the gateway reads users from the store on every sign-in, so it needs no restart.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

from gateway.oauth.authorize.users import UserDirectory
from gateway.store.factory import open_store
from tests.support.browser import Person

PASSWORD = "correct horse battery"


async def add_user(
    store_url: str,
    username: str,
    password: str = PASSWORD,
    display_name: str = "",
    roles: tuple[str, ...] = (),
) -> None:
    """Add a user, holding ``roles`` at the console, to the store at ``store_url`` (opened and
    closed here, on the caller's loop)."""
    store = open_store(store_url)
    try:
        await UserDirectory(store).add(username, password, display_name, roles)
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def signed_up(store_url: str) -> AsyncIterator[Person]:
    """A new user (unique name, so remembered consent never leaks between tests) and their browser."""
    username = f"user-{secrets.token_hex(4)}"
    await add_user(store_url, username)
    person = Person(username, PASSWORD)
    try:
        yield person
    finally:
        await person.aclose()

"""The key-encryption key of the suite's shared stores.

A gateway on Redis needs the KEK every replica holds (``key_encryption_key``); tests name this
one, which ``conftest.py`` puts in the environment once per run, so the replicas a test starts and
the CLI processes it runs (which inherit the environment) all open the same keys. On SQLite it
replaces the file the gateway would otherwise create beside the database.
"""

from __future__ import annotations

ENVIRONMENT_VARIABLE = "MCP_GATEWAY_TEST_KEK"
SHARED_STORE_KEK = f"env:{ENVIRONMENT_VARIABLE}"

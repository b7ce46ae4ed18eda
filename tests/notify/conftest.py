"""The server fixtures of tests/server, for receivers tested on a live server."""

from tests.server.conftest import admin_token, server, start_server

__all__ = ["admin_token", "server", "start_server"]

"""Machinery of the service tests: a live uvicorn server on a free loopback port, PostgreSQL."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, Self

import pytest
import sqlalchemy as sa


class LiveServer:
    """Runs an ASGI app with uvicorn in a background thread; ``url`` once started."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            lifespan="on",
            log_level="warning",
            log_config=None,
            ws="none",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self.exit_code: int | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except SystemExit as exc:  # uvicorn exits this way when the app fails to start
            self.exit_code = int(exc.code or 0)

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 120
        while not self._server.started:
            if not self._thread.is_alive():
                self._sock.close()
                raise RuntimeError(f"the server did not start (exit code {self.exit_code})")
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start within 120 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(60)
        self._sock.close()


@pytest.fixture(scope="session")
def pg_schema_factory(local_postgres_url: str | None) -> Iterator[Any]:
    """make() -> (server url, a fresh schema name); every schema is dropped at the end."""
    url = local_postgres_url
    created: list[str] = []

    def make() -> tuple[str, str]:
        if url is None:
            pytest.skip("PostgreSQL on 127.0.0.1:5432 is unreachable")
        name = f"test_service_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        engine.dispose()
        created.append(name)
        return url, name

    yield make
    if url is not None and created:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for name in created:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        engine.dispose()

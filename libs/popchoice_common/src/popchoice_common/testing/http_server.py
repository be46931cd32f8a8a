"""A real aiohttp server on 127.0.0.1 in a background thread: the base of the fake external APIs."""

from __future__ import annotations

import abc
import asyncio
import threading
from typing import Self

from aiohttp import web


class ThreadedHTTPServer(abc.ABC):
    """Runs :meth:`build_app` on a free port in its own event loop, so sync and async tests can call it."""

    name = "fake-http"

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.name, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @abc.abstractmethod
    def build_app(self) -> web.Application:
        """The routes and middleware of the fake."""

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

"""A minimal HTTP/1.1 keep-alive client for the benchmark's clients.

The clients share the two cores with the services they measure, so their own cost matters:
aiohttp spent about 1 ms of CPU per recommendation (a POST and an event stream). This speaks just
what the benchmark needs (one request at a time per connection, Content-Length or chunked
responses) on a bare asyncio protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast


class HttpError(RuntimeError):
    pass


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._transport: asyncio.Transport | None = None
        self._lost: Exception | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(cls, host, port)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or HttpError("the server closed the connection")
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(self._lost)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def _more(self) -> None:
        if self._lost is not None:
            raise self._lost
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter

    async def _until(self, marker: bytes) -> int:
        while (index := self._buffer.find(marker)) < 0:
            await self._more()
        return index

    async def _take(self, count: int) -> bytes:
        while len(self._buffer) < count:
            await self._more()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes = b"",
        on_data: Callable[[bytes], bool] | None = None,
    ) -> tuple[int, bytes]:
        """Sends one request and reads the whole response; on_data sees the body as it grows and
        may return True to mark the moment the caller was waiting for (the body is still read)."""
        assert self._transport is not None
        lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self._transport.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        end = await self._until(b"\r\n\r\n")
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            return status, await self._take(int(fields["content-length"]))
        if fields.get("transfer-encoding", "").lower() != "chunked":
            raise HttpError(f"unsupported response framing: {fields}")
        received = bytearray()
        while True:
            end = await self._until(b"\r\n")
            size = int(bytes(self._buffer[:end]).split(b";")[0], 16)
            del self._buffer[: end + 2]
            chunk = await self._take(size + 2)
            if size == 0:
                return status, bytes(received)
            received += chunk[:-2]
            if on_data is not None:
                on_data(bytes(received))

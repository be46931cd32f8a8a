"""A Server-Sent Events response that costs one plain task per stream.

Starlette's StreamingResponse (under uvicorn's ASGI 2.3) runs every response in an anyio task group
with a second task listening for the disconnect; on the recommendation path, where each stream
lives a few milliseconds, that machinery was a visible share of the gateway's CPU. Here the
disconnect listener is one asyncio task that calls on_disconnect, and the event source is
expected to return when told (the progress watch wakes it). An event the source marks as its last
(LastEvent) leaves in the same write as the end of the response.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class LastEvent(str):
    """The final event of a stream: sent together with the end of the response."""


class EventStream(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        events: AsyncIterator[str],
        *,
        on_disconnect: Callable[[], None],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.events = events
        self.on_disconnect = on_disconnect
        self.status_code = 200
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wait_for_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.on_disconnect()

        listener = asyncio.ensure_future(wait_for_disconnect())
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            async for event in self.events:
                last = isinstance(event, LastEvent)
                await send({"type": "http.response.body", "body": event.encode(), "more_body": not last})
                if last:
                    return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            listener.cancel()
            aclose = getattr(self.events, "aclose", None)
            if aclose is not None:
                await aclose()

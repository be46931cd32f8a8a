"""The event-stream response: events go out in order, and a client that leaves ends the stream."""

import asyncio

from popchoice_gateway.sse import EventStream, LastEvent


async def test_events_are_sent_in_order_and_the_body_ends():
    sent = []

    async def receive():
        await asyncio.Event().wait()  # the client stays

    async def send(message):
        sent.append(message)

    async def events():
        yield "event: stage\ndata: {}\n\n"
        yield "event: result\ndata: {}\n\n"

    response = EventStream(events(), on_disconnect=lambda: None, headers={"Cache-Control": "no-store"})
    await response({"type": "http"}, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in sent[0]["headers"]
    assert (b"cache-control", b"no-store") in sent[0]["headers"]
    bodies = [message["body"] for message in sent[1:]]
    assert bodies == [b"event: stage\ndata: {}\n\n", b"event: result\ndata: {}\n\n", b""]
    assert sent[-1]["more_body"] is False


async def test_the_last_event_and_the_end_of_the_body_leave_together():
    sent = []

    async def receive():
        await asyncio.Event().wait()

    async def send(message):
        sent.append(message)

    async def events():
        yield "event: stage\ndata: {}\n\n"
        yield LastEvent("event: result\ndata: {}\n\n")

    await EventStream(events(), on_disconnect=lambda: None)({"type": "http"}, receive, send)
    assert [(message["body"], message["more_body"]) for message in sent[1:]] == [
        (b"event: stage\ndata: {}\n\n", True),
        (b"event: result\ndata: {}\n\n", False),
    ]


async def test_a_client_that_leaves_ends_the_stream_and_its_cleanup_runs():
    left = asyncio.Event()
    gone = asyncio.Event()
    cleaned = []
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await left.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        pass

    async def events():
        try:
            yield "event: stage\ndata: {}\n\n"
            await gone.wait()  # a stream waiting for progress that will not come soon
        finally:
            cleaned.append(True)

    response = EventStream(events(), on_disconnect=gone.set)
    streaming = asyncio.create_task(response({"type": "http"}, receive, send))
    await asyncio.sleep(0.05)
    assert not streaming.done()
    left.set()
    await asyncio.wait_for(streaming, 1)
    assert cleaned == [True]

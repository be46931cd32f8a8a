"""With tracing on, the POST's server span is the parent of the job it queues: the event carries its
traceparent, so the recommender's attempts (and what they publish) join the same trace."""

from typing import Any

import msgspec
import redis
from opentelemetry.trace import SpanKind

from popchoice_common.events import RECOMMENDATION_REQUESTED, RecommendationRequested
from popchoice_common.streams import StreamKeys

from .conftest import QUIZ


def test_the_queued_job_continues_the_requests_trace(spans, client, redis_url, key_prefix):
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    answer = client.post("/api/recommendations", json=QUIZ, headers={"traceparent": caller})
    assert answer.status_code == 201
    finished = spans.get_finished_spans()
    # FastAPI's own server span (it traces requests whenever a tracer provider is set).
    (server,) = [span for span in finished if span.kind == SpanKind.SERVER]
    assert server.name == "POST /api/recommendations" and server.attributes["http.response.status_code"] == 201
    assert f"{server.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace
    entries: Any = redis.Redis.from_url(redis_url).xrange(StreamKeys(key_prefix).stream(RECOMMENDATION_REQUESTED))
    event = msgspec.json.decode(entries[0][1][b"data"], type=RecommendationRequested)
    assert event.traceparent is not None
    _, trace_id, parent_id, _ = event.traceparent.split("-")
    assert trace_id == "0af7651916cd43dd8448eb211c80319c"
    # Published from within the request: its parent is the server span or one of its children.
    assert int(parent_id, 16) in {span.context.span_id for span in finished}

"""Tracing with OpenTelemetry: one trace from the gateway's POST through every job it causes.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (the standard OpenTelemetry variable; the OTLP/HTTP
exporter reads it and its siblings, OTEL_EXPORTER_OTLP_HEADERS and so on): then each process exports
its spans there, named by its service. Without it nothing is recorded or exported, and the code
below costs one boolean test per job.

The context travels in the events: the publisher stamps each event it publishes with the W3C
``traceparent`` of the span it is published from, and the worker runs each attempt in a span that
continues that trace (one span per attempt, with its number and outcome).
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

_state = {"enabled": False}
TRACER_NAME = "popchoice"


def enabled() -> bool:
    """Whether spans are recorded in this process (checked on the hot paths before any work)."""
    return _state["enabled"]


def configure_tracing(service: str, *, processor: SpanProcessor | None = None) -> bool:
    """Turns tracing on for this process when OTEL_EXPORTER_OTLP_ENDPOINT is set (or a processor is
    given, as the tests give an in-memory one). Returns whether it is on."""
    if processor is None:
        if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        processor = BatchSpanProcessor(OTLPSpanExporter())
    provider = TracerProvider(resource=Resource.create({"service.name": f"popchoice-{service}"}))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _state["enabled"] = True
    return True


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_traceparent() -> str | None:
    """The W3C traceparent of the active span, or None when there is none (or tracing is off)."""
    if not _state["enabled"] or not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def start_attempt_span(stream: str, job_id: str, attempt: int, traceparent: str | None) -> Span:
    """The span of one attempt at a job, a child of the span that published it. Run the handler inside
    activated(span), so what it publishes carries the trace on; end it with finish()."""
    parent = propagate.extract({"traceparent": traceparent}) if traceparent else otel_context.Context()
    return tracer().start_span(
        f"{stream} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "redis",
            "messaging.destination.name": stream,
            "messaging.message.id": job_id,
            "popchoice.job.attempt": attempt,
        },
    )


def activated(span: Span) -> AbstractContextManager[Span]:
    """Makes span the current one inside the block, without ending it."""
    return trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False)


def finish(span: Span, outcome: str, error: str | None = None) -> None:
    """Ends an attempt's span with its outcome: completed, retrying, waiting (a dependency outage),
    dead or interrupted (shutdown)."""
    span.set_attribute("popchoice.job.outcome", outcome)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error[:500]))
    span.end()

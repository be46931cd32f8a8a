"""The operator console's routes: read the request, call the service or the operations, render a page.

Every route but /healthz needs an operator (Basic Auth); every POST also needs the CSRF token and a
console that is not read-only. An action answers with a redirect (303) to the page that shows its
effect, carrying the audit row's id (``done``) so that page can say what happened.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from popchoice_common.events import STREAM_EVENTS
from popchoice_common.streams.admin import JOB_LIST_STATES, JobListState
from popchoice_common.tmdb.client import MOVIE_LISTS
from popchoice_health_reporter import repository
from popchoice_health_reporter.formatting import throughput_bars
from popchoice_health_reporter.operations import ActionRefused, ActionResult, ReviewDecision, event_schema
from popchoice_health_reporter.service import ReportOptions, build_report
from popchoice_health_reporter.web import (
    PACKAGE_DIR,
    ActorDep,
    Console,
    ConsoleDep,
    FormDep,
    render,
    require_operator,
)

public_router = APIRouter()
router = APIRouter(dependencies=[Depends(require_operator)])

STATIC_FILES = {
    "htmx.min.js": ("htmx-2.0.11.min.js", "text/javascript"),
    "console.css": ("console.css", "text/css"),
    "htmx-LICENSE.txt": ("htmx-LICENSE.txt", "text/plain"),
}
REFRESH_CHOICES = (0, 2, 5, 15, 60)
PAGE_SIZE = 50


def _field(form: dict[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def _int_field(form: dict[str, list[str]], name: str) -> int:
    value = _field(form, name).strip()
    if not value.isdigit():
        raise HTTPException(status_code=422, detail=f"{name}: a whole number is expected.")
    return int(value)


def _done(url: str, result: ActionResult) -> RedirectResponse:
    separator = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{separator}done={result.audit_id}", status_code=303)


async def _notice(console: Console, request: Request) -> dict[str, Any] | None:
    done = request.query_params.get("done", "")
    if not done.isdigit():
        return None
    async with console.pool.acquire() as connection:
        row = await repository.audit_row(connection, int(done))
    if row is None:
        return None
    return {**dict(row), "after": json.loads(row["after"]) if row["after"] else None}


def _known_stream(console: Console, stream: str) -> str:
    if stream not in console.admin.streams:
        raise HTTPException(status_code=404, detail=f"Unknown stream {stream!r}.")
    return stream


@public_router.get("/healthz", include_in_schema=False)
async def healthz(console: ConsoleDep) -> JSONResponse:
    """Liveness for container health checks, without auth: PostgreSQL and Redis answer."""
    try:
        await console.redis.ping()
        async with console.pool.acquire() as connection:
            await connection.fetchval("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure is "not healthy"; its type is enough
        return JSONResponse({"status": "unavailable", "error": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/static/{name}")
async def static(name: str) -> FileResponse:
    """The console's own assets (htmx is vendored: nothing comes from a CDN)."""
    if name not in STATIC_FILES:
        raise HTTPException(status_code=404, detail="No such asset.")
    filename, media_type = STATIC_FILES[name]
    return FileResponse(PACKAGE_DIR / "static" / filename, media_type=media_type)


# Jobs.


def _refresh(request: Request) -> int:
    value = request.query_params.get("refresh", "0")
    return int(value) if value.isdigit() and int(value) in REFRESH_CHOICES else 0


async def _overview_context(console: Console) -> dict[str, Any]:
    overview = await console.admin.overview()
    stats = [item for item, _ in overview]
    charts = {item.stream: throughput_bars(counts) for item, counts in overview}
    return {"stats": stats, "charts": charts, "now_ms": int(datetime.now(UTC).timestamp() * 1000)}


@router.get("/")
async def overview(request: Request, console: ConsoleDep) -> Response:
    """Every stream: counts by state, lag, oldest pending age, consumers, paused, the last hour's throughput."""
    context = await _overview_context(console)
    return render(
        request,
        "overview.html",
        {
            **context,
            "refresh": _refresh(request),
            "refresh_choices": REFRESH_CHOICES,
            "notice": await _notice(console, request),
        },
    )


@router.get("/partials/overview")
async def overview_partial(request: Request, console: ConsoleDep) -> Response:
    """The overview's table and charts alone, for the viewer's auto-refresh."""
    return render(request, "partials/streams.html", await _overview_context(console))


@router.get("/workers")
async def workers(request: Request, console: ConsoleDep) -> Response:
    """Consumers per service (consumer group) and stream, with their idle time and pending entries."""
    stats = await console.admin.stats()
    services: dict[str, list[dict[str, Any]]] = {}
    for item in stats:
        for group in item.groups:
            services.setdefault(group.name, []).append({"stream": item.stream, "group": group})
    return render(request, "workers.html", {"services": services, "stats": stats})


@router.get("/streams/{stream}")
async def stream_jobs(request: Request, stream: str, console: ConsoleDep) -> Response:
    """One stream's jobs in one state, newest first, paged, searchable by job id."""
    _known_stream(console, stream)
    state = request.query_params.get("state", "dead")
    if state not in JOB_LIST_STATES:
        raise HTTPException(status_code=422, detail=f"state: one of {', '.join(JOB_LIST_STATES)}.")
    search = request.query_params.get("q", "").strip()[:200] or None
    cursor = request.query_params.get("cursor") or None
    page = await console.admin.list_jobs(
        stream, cast(JobListState, state), limit=PAGE_SIZE, cursor=cursor, search=search
    )
    stats = (await console.admin.stats([stream]))[0]
    return render(
        request,
        "stream.html",
        {
            "stream": stream,
            "state": state,
            "states": JOB_LIST_STATES,
            "page": page,
            "stat": stats,
            "search": search or "",
            "notice": await _notice(console, request),
            "event_names": sorted(STREAM_EVENTS),
        },
    )


@router.get("/jobs/{job_id:path}")
async def job_detail(request: Request, job_id: str, console: ConsoleDep, stream: str | None = None) -> Response:
    """A job: its payload as pretty JSON, attempts, each failure with its traceback, timestamps, consumer.

    ``?stream=`` names the job's stream (its keys carry the stream's tag); without it every stream is
    looked in and the job enqueued most recently under this id is shown."""
    if stream is not None and stream not in console.admin.streams:
        raise HTTPException(status_code=404, detail=f"Unknown stream {stream}.")
    job = await console.admin.job(job_id, stream)
    if job is None:
        raise HTTPException(status_code=404, detail=f"Job {job_id} is unknown or past its retention.")
    payload = job.payload
    pretty = None
    if payload:
        try:
            pretty = json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
        except json.JSONDecodeError:
            pretty = payload
    dead_id = None
    if job.state == "dead" and job.stream in console.admin.streams:
        page = await console.admin.list_jobs(job.stream, "dead", limit=5, search=job_id)
        dead_id = next((row.dead_id for row in page.jobs if row.job_id == job_id), None)
    return render(
        request,
        "job.html",
        {"job": job, "payload": pretty, "dead_id": dead_id, "notice": await _notice(console, request)},
    )


@router.post("/streams/{stream}/dead/{dead_id}/retry")
async def retry_dead(stream: str, dead_id: str, console: ConsoleDep, actor: ActorDep) -> Response:
    """Retries one dead job under an operator job id; opens the new job."""
    result = await console.operations.retry_dead(actor, _known_stream(console, stream), dead_id)
    return _done(f"/jobs/{result.job_ids[0]}", result)


@router.post("/streams/{stream}/dead/{dead_id}/delete")
async def delete_dead(stream: str, dead_id: str, console: ConsoleDep, actor: ActorDep) -> Response:
    result = await console.operations.delete_dead(actor, _known_stream(console, stream), dead_id)
    return _done(f"/streams/{stream}?state=dead", result)


@router.post("/streams/{stream}/retry-all")
async def retry_all(stream: str, console: ConsoleDep, actor: ActorDep) -> Response:
    result = await console.operations.retry_all_dead(actor, _known_stream(console, stream))
    return _done(f"/streams/{stream}?state=queued", result)


@router.post("/streams/{stream}/purge-dead")
async def purge_dead(stream: str, console: ConsoleDep, actor: ActorDep) -> Response:
    result = await console.operations.purge_dead(actor, _known_stream(console, stream))
    return _done(f"/streams/{stream}?state=dead", result)


@router.post("/streams/{stream}/pause")
async def pause(stream: str, console: ConsoleDep, actor: ActorDep, form: FormDep) -> Response:
    result = await console.operations.set_paused(actor, _known_stream(console, stream), paused=True)
    return _done(_field(form, "back") if _field(form, "back") == "/" else f"/streams/{stream}", result)


@router.post("/streams/{stream}/resume")
async def resume(stream: str, console: ConsoleDep, actor: ActorDep, form: FormDep) -> Response:
    result = await console.operations.set_paused(actor, _known_stream(console, stream), paused=False)
    return _done(_field(form, "back") if _field(form, "back") == "/" else f"/streams/{stream}", result)


@router.post("/streams/{stream}/jobs/{job_id:path}/run-now")
async def run_now(stream: str, job_id: str, console: ConsoleDep, actor: ActorDep) -> Response:
    result = await console.operations.run_now(actor, _known_stream(console, stream), job_id)
    return _done(f"/jobs/{job_id}", result)


@router.get("/streams/{stream}/enqueue")
async def enqueue_form(request: Request, stream: str, console: ConsoleDep) -> Response:
    """A form for one job of the stream, with the event's JSON schema beside it."""
    _known_stream(console, stream)
    schema = json.dumps(event_schema(stream), indent=2)
    return render(request, "enqueue.html", {"stream": stream, "schema": schema, "payload": "{}", "error": None})


@router.post("/streams/{stream}/enqueue")
async def enqueue(request: Request, stream: str, console: ConsoleDep, actor: ActorDep, form: FormDep) -> Response:
    """Enqueues a job whose fields are validated against the event's schema; a bad payload re-shows the form."""
    _known_stream(console, stream)
    payload = _field(form, "payload")
    try:
        result = await console.operations.enqueue(actor, stream, payload)
    except ActionRefused as exc:
        schema = json.dumps(event_schema(stream), indent=2)
        return render(
            request,
            "enqueue.html",
            {"stream": stream, "schema": schema, "payload": payload, "error": str(exc)},
            status_code=exc.status,
        )
    return _done(f"/jobs/{result.job_ids[0]}", result)


# Backoffice.


@router.get("/catalog")
async def catalog_health(request: Request, console: ConsoleDep) -> Response:
    """The catalog health report, from the same queries as ``popchoice-health``, samples linked to movies."""
    settings = console.settings
    report = await build_report(
        console.pool,
        ReportOptions(
            sample_limit=max(settings.catalog_health_sample_limit, 1), stale_days=settings.catalog_health_stale_days
        ),
    )
    async with console.pool.acquire() as connection:
        reviews = await repository.review_counts(connection)
    return render(request, "catalog.html", {"report": report, "reviews": reviews})


@router.get("/movies/{movie_id}")
async def movie(request: Request, movie_id: int, console: ConsoleDep) -> Response:
    """A movie: its row, TMDB metadata, genres, people, keywords, embedding model and time, recommendations."""
    async with console.pool.acquire() as connection:
        page = await repository.movie_page(connection, movie_id)
    if page is None:
        raise HTTPException(status_code=404, detail=f"Movie {movie_id} does not exist.")
    movie_row = cast(dict[str, Any], page["movie"])
    metadata = movie_row.pop("tmdb_metadata", None)
    pretty = json.dumps(json.loads(metadata), indent=2, ensure_ascii=False) if metadata else None
    return render(
        request,
        "movie.html",
        {**page, "movie": movie_row, "metadata": pretty, "notice": await _notice(console, request)},
    )


@router.post("/movies/{movie_id}/tmdb-id")
async def set_tmdb_id(movie_id: int, console: ConsoleDep, actor: ActorDep, form: FormDep) -> Response:
    """Sets the movie's TMDB id by hand (checked against TMDB), then backfills it."""
    result = await console.operations.set_tmdb_id(actor, movie_id, _int_field(form, "tmdb_id"))
    return _done(f"/movies/{movie_id}", result)


@router.get("/reviews")
async def reviews(request: Request, console: ConsoleDep) -> Response:
    """The match review queue (open by default); the bulk view selects many for reject or defer."""
    status = request.query_params.get("status", "open")
    if status not in ("open", "deferred", "resolved", "ignored"):
        raise HTTPException(status_code=422, detail="status: open, deferred, resolved or ignored.")
    offset_text = request.query_params.get("offset", "0")
    offset = int(offset_text) if offset_text.isdigit() else 0
    async with console.pool.acquire() as connection:
        rows = await repository.reviews_by_status(connection, status, limit=PAGE_SIZE, offset=offset)
        counts = await repository.review_counts(connection)
    items = [{**dict(row), "candidates": json.loads(row["candidates"])} for row in rows]
    return render(
        request,
        "reviews.html",
        {
            "reviews": items,
            "status": status,
            "counts": counts,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "notice": await _notice(console, request),
        },
    )


@router.get("/reviews/{review_id}")
async def review(request: Request, review_id: int, console: ConsoleDep) -> Response:
    """One review: the local row and each TMDB candidate side by side (poster, title, year, runtime, overview)."""
    async with console.pool.acquire() as connection:
        row = await repository.review_detail(connection, review_id)
        audit = await repository.review_audit(connection, review_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"Review {review_id} does not exist.")
    candidates = await console.operations.candidate_details(json.loads(row["candidates"]))
    return render(
        request,
        "review.html",
        {"review": dict(row), "candidates": candidates, "audit": audit, "notice": await _notice(console, request)},
    )


@router.post("/reviews/{review_id}/decision")
async def decide(review_id: int, console: ConsoleDep, actor: ActorDep, form: FormDep) -> Response:
    """Accept a candidate (links it; a backfill job refreshes metadata and embedding), reject or defer."""
    decision = _field(form, "decision")
    tmdb_id = _int_field(form, "tmdb_id") if decision == "accept" else None
    result = await console.operations.decide_review(actor, review_id, cast(ReviewDecision, decision), tmdb_id=tmdb_id)
    return _done(f"/reviews/{review_id}", result)


@router.post("/reviews/bulk")
async def decide_many(request: Request, console: ConsoleDep, actor: ActorDep, form: FormDep) -> Response:
    """Reject or defer every selected review."""
    decision = _field(form, "decision")
    ids = [int(value) for value in form.get("review_id", []) if value.isdigit()]
    if not ids:
        raise HTTPException(status_code=422, detail="Select at least one review.")
    messages = await console.operations.decide_reviews(actor, ids, cast(ReviewDecision, decision))
    return render(request, "bulk_done.html", {"messages": messages})


@router.get("/repairs")
async def repairs(request: Request, console: ConsoleDep) -> Response:
    """Manual repairs: a movie's TMDB id, a discovery or backfill run, re-seeding the curated file."""
    return render(
        request,
        "repairs.html",
        {
            "sources": MOVIE_LISTS,
            "language": console.settings.tmdb_language,
            "tmdb": console.tmdb is not None,
            "notice": await _notice(console, request),
        },
    )


@router.post("/repairs/tmdb-id")
async def repair_tmdb_id(console: ConsoleDep, actor: ActorDep, form: FormDep) -> Response:
    movie_id = _int_field(form, "movie_id")
    result = await console.operations.set_tmdb_id(actor, movie_id, _int_field(form, "tmdb_id"))
    return _done(f"/movies/{movie_id}", result)


@router.post("/repairs/discovery")
async def repair_discovery(console: ConsoleDep, actor: ActorDep, form: FormDep) -> Response:
    sources = [source for source in form.get("source", []) if source in MOVIE_LISTS]
    result = await console.operations.enqueue_discovery(
        actor, sources, _int_field(form, "pages"), _field(form, "language") or console.settings.tmdb_language
    )
    return _done("/streams/catalog.discover-page?state=queued", result)


@router.post("/repairs/backfill")
async def repair_backfill(console: ConsoleDep, actor: ActorDep, form: FormDep) -> Response:
    text = _field(form, "movie_ids").replace(",", " ").split()
    if any(not item.isdigit() for item in text):
        raise HTTPException(status_code=422, detail="movie_ids: movie ids separated by spaces or commas.")
    limit_text = _field(form, "limit", "100").strip() or "100"
    if not limit_text.isdigit():
        raise HTTPException(status_code=422, detail="limit: a whole number is expected.")
    result = await console.operations.enqueue_backfill(actor, [int(item) for item in text] or None, int(limit_text))
    return _done("/streams/catalog.backfill-movie?state=queued", result)


@router.post("/repairs/reseed")
async def repair_reseed(console: ConsoleDep, actor: ActorDep) -> Response:
    result = await console.operations.reseed_curated(actor)
    return _done(f"/jobs/{result.job_ids[0]}", result)


@router.get("/audit")
async def audit(request: Request, console: ConsoleDep) -> Response:
    """The last operator actions: who, when, what, on what, before and after."""
    async with console.pool.acquire() as connection:
        rows = await repository.recent_audit(connection, limit=200)
    return render(request, "audit.html", {"rows": rows})

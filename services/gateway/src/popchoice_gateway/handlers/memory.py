"""Movie-memory routes: the trainer's search, deck and list, and storing or forgetting what a person
says about a film. The memory filters and steers the person's recommendations."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from popchoice_gateway import movie_memory
from popchoice_gateway.handlers.common import ERRORS, INVALID_INPUT, SignedInUser, State
from popchoice_gateway.schemas import ErrorOut, InteractionKindOut, MemoryIn, MemoryMovieOut, MemoryPageOut, MovieKey

router = APIRouter(tags=["movie memory"])
PATH = "/api/account/movie-memory"
MEMORY_EFFECTS = """

What the memory does to the person's recommendations (and to more picks of them): **watched** and
**not_interested** films never come back; **wrong_mood** films (only feedback stores them) rank lower;
**liked** films are extra anchors, so films similar to them rank higher; **not_seen** only takes the
film out of the trainer's deck."""


@router.get(
    PATH,
    response_model=MemoryPageOut,
    responses={**ERRORS, 422: INVALID_INPUT},
)
async def movie_memory_get(
    gateway: State,
    user_id: SignedInUser,
    q: Annotated[str | None, Query(max_length=200, description="Title to search for (typo-tolerant).")] = None,
    mode: Annotated[
        Literal["search", "candidates", "list"] | None,
        Query(description="search (the default with q), candidates (a deck to rate), list (the default without q)."),
    ] = None,
    kind: Annotated[InteractionKindOut | None, Query(description="list: only films of this kind.")] = None,
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    pageSize: Annotated[int, Query(ge=1, le=50)] = 20,  # noqa: N803 - the wire format
) -> MemoryPageOut:
    """The movie-memory trainer's reads, for the signed-in person.

    - `?q=` (mode `search`): catalog films by title, typo- and accent-tolerant, best match first, paged;
      each with `kind`, what the memory holds about it.
    - `?mode=candidates`: a deck of `pageSize` well-known catalog films the person has not rated yet,
      varied in genre and era.
    - `?mode=list`: what the memory holds, most recently changed first, paged, optionally of one `kind`.
    """
    chosen = mode or ("search" if q is not None else "list")
    if chosen == "candidates":
        return await movie_memory.candidates(gateway.pool, user_id, size=pageSize)
    if chosen == "list":
        return await movie_memory.stored(gateway.pool, user_id, kind=kind, page=page, size=pageSize)
    try:
        return await movie_memory.search(gateway.pool, user_id, q or "", page=page, size=pageSize)
    except movie_memory.InvalidQuery as exc:
        raise HTTPException(status_code=422, detail=exc.reason) from None


@router.post(
    PATH,
    response_model=MemoryMovieOut,
    responses={**ERRORS, 404: {"model": ErrorOut, "description": "No such film"}, 422: INVALID_INPUT},
    description="Stores what the signed-in person says about a film (an idempotent upsert: the latest statement"
    " about a film wins). The film is found by its key in the catalog, else among the person's own picks;"
    " the answer carries its canonical key (`tmdb:<id>` when TMDB knows it)." + MEMORY_EFFECTS,
)
async def movie_memory_post(body: MemoryIn, gateway: State, user_id: SignedInUser) -> MemoryMovieOut:
    try:
        return await movie_memory.remember(gateway.pool, user_id, body.movieKey, body.kind)
    except movie_memory.UnknownFilm:
        raise HTTPException(
            status_code=404, detail="No film with this movieKey in the catalog or your recommendations."
        ) from None


@router.delete(
    PATH,
    status_code=204,
    response_class=Response,
    responses={**ERRORS, 404: {"model": ErrorOut, "description": "Nothing stored for this film"}, 422: INVALID_INPUT},
)
async def movie_memory_delete(
    gateway: State,
    user_id: SignedInUser,
    movieKey: Annotated[MovieKey, Query()],  # noqa: N803 - the wire format
) -> Response:
    """Forgets what the signed-in person said about a film: it stops filtering or steering their picks."""
    if not await movie_memory.forget(gateway.pool, user_id, movieKey):
        raise HTTPException(status_code=404, detail="Your movie memory holds nothing for this film.")
    return Response(status_code=204)

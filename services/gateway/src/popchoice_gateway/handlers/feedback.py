"""Feedback on picks: the recommendation's owner says how a pick landed; it is stored and folded into
their movie memory."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response

from popchoice_gateway import movie_memory
from popchoice_gateway.handlers.common import ERRORS, INVALID_INPUT, SignedInUser, State
from popchoice_gateway.schemas import ErrorOut, FeedbackIn, FeedbackOut, MovieKey

router = APIRouter(tags=["feedback"])
PATH = "/api/recommendations/{id_or_slug}/feedback"
OWNER_ONLY: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "The recommendation is someone else's"},
    404: {"model": ErrorOut, "description": "No such recommendation, or the film is not one of its picks"},
}
MAPPING = """

What each kind does to the person's memory and later picks (more picks included):

| kind | memory | effect |
|---|---|---|
| useful | liked | an extra anchor: films similar to it rank higher |
| already_watched | watched | never recommended again |
| not_for_me | not_interested | never recommended again |
| wrong_mood | wrong_mood | ranks lower |
| too_obvious | (none) | later picks lean to less-known films (popularity preference) |
| too_obscure | (none) | later picks lean to better-known films (popularity preference) |
| close | (none) | a weak anchor: films similar to it rank a little higher |

One feedback per pick: a new kind replaces the old one, and what the old one stored in the memory is
taken back (unless the memory entry was changed since)."""


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, movie_memory.NotTheOwner):
        return HTTPException(
            status_code=403, detail="Only the person this recommendation was made for may give feedback on it."
        )
    if isinstance(exc, movie_memory.RecommendationNotFound):
        return HTTPException(status_code=404, detail="No such recommendation.")
    return HTTPException(status_code=404, detail="This film is not one of the recommendation's picks.")


@router.post(
    PATH,
    response_model=FeedbackOut,
    responses={**ERRORS, **OWNER_ONLY, 422: INVALID_INPUT},
    description="The owner's feedback on one pick (by `movieKey`, as `similarMovies[].movieKey` gives it)." + MAPPING,
)
async def give_feedback(
    id_or_slug: Annotated[str, Path(max_length=64)], body: FeedbackIn, gateway: State, user_id: SignedInUser
) -> FeedbackOut:
    try:
        return await movie_memory.give_feedback(gateway.pool, user_id, id_or_slug, body.movieKey, body.kind)
    except (movie_memory.NotTheOwner, movie_memory.RecommendationNotFound, movie_memory.NotAPick) as exc:
        raise _refused(exc) from None


@router.delete(
    PATH,
    status_code=204,
    response_class=Response,
    responses={**ERRORS, **OWNER_ONLY, 422: INVALID_INPUT},
)
async def take_back_feedback(
    id_or_slug: Annotated[str, Path(max_length=64)],
    gateway: State,
    user_id: SignedInUser,
    movieKey: Annotated[MovieKey, Query()],  # noqa: N803 - the wire format
) -> Response:
    """Undoes the owner's feedback on a pick: the feedback goes, and the movie-memory entry it stored goes with
    it if that entry is still as the feedback left it (an entry changed since, in the trainer or by feedback on
    another recommendation, stays). A popularity or "close" effect ends with the feedback. 404 when there is no
    such feedback."""
    try:
        await movie_memory.take_back_feedback(gateway.pool, user_id, id_or_slug, movieKey)
    except (movie_memory.NotTheOwner, movie_memory.RecommendationNotFound, movie_memory.NotAPick) as exc:
        raise _refused(exc) from None
    return Response(status_code=204)

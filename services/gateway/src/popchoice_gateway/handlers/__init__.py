"""HTTP routes: decode, call the service, answer. The product's wire format (camelCase JSON). One
module per area; this package's router includes them all."""

from __future__ import annotations

from fastapi import APIRouter

from popchoice_gateway.handlers import (
    account,
    account_pages,
    auth,
    feedback,
    memory,
    operations,
    pages,
    recommendations,
    titles,
)

#: Every area's routes in one router, the recommendation API first. The routes themselves, not each
#: area's router included: FastAPI 0.165 matches an included router by walking it (and checking its
#: version) on every request, which cost the gateway more per request than the handler of a route.
router = APIRouter()
for area in (recommendations, feedback, memory, operations, auth, account, titles, pages, account_pages):
    router.routes.extend(area.router.routes)

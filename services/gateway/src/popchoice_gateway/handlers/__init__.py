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

router = APIRouter()
router.include_router(recommendations.router)
router.include_router(feedback.router)
router.include_router(memory.router)
router.include_router(operations.router)
router.include_router(auth.router)
router.include_router(account.router)
router.include_router(titles.router)
router.include_router(pages.router)
router.include_router(account_pages.router)

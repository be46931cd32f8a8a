"""What the routes share, created once in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import redis.asyncio as redis

from popchoice_common.llm import LLMClient
from popchoice_gateway.accounts.service import AccountService
from popchoice_gateway.auth import ApiKeys, RateLimiter
from popchoice_gateway.config import GatewaySettings
from popchoice_gateway.progress import ProgressListener
from popchoice_gateway.service import RecommendationService


@dataclass
class GatewayState:
    settings: GatewaySettings
    pool: asyncpg.Pool
    redis: redis.Redis | None
    service: RecommendationService
    rate_limiter: RateLimiter
    title_rate_limiter: RateLimiter
    llm: LLMClient | None
    ceiling: float
    progress: ProgressListener
    api_keys: ApiKeys
    accounts: AccountService

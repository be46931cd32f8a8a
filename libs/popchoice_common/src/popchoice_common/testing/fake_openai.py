"""A fake OpenAI-compatible HTTP server for tests: embeddings, chat completions and moderations.

It is a real aiohttp server on 127.0.0.1 (in a background thread), so the official openai client
talks to it over HTTP exactly as it would to the real API, including ``encoding_format: base64``,
which the client sends by default. Embeddings are the hash embedder's lexical vectors, so texts
that share words are close. Requests are recorded for assertions, and faults can be injected.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import web

from popchoice_common.embedders.hashing import HashEmbedder
from popchoice_common.testing.http_server import ThreadedHTTPServer

MAX_EMBEDDING_INPUTS = 2048
NATIVE_DIMENSIONS = {"text-embedding-3-large": 3072, "text-embedding-3-small": 1536, "text-embedding-ada-002": 1536}
API_KEY = "sk-test-fake-openai-key"
_BODY = web.RequestKey("body", dict)


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]


@dataclass
class FakeOpenAIState:
    requests: list[RecordedRequest] = field(default_factory=list)
    #: Responses to force on the next requests: (status, message) popped one per request.
    forced_failures: list[tuple[int, str]] = field(default_factory=list)
    #: Words that make a moderation input flagged, with the category they flag.
    moderation_terms: dict[str, str] = field(default_factory=dict)
    #: Builds the chat reply from the request's messages.
    chat_reply: Callable[[list[dict[str, Any]]], str] | None = None

    def reset(self) -> None:
        self.requests.clear()
        self.forced_failures.clear()
        self.moderation_terms.clear()
        self.chat_reply = None


def _error(status: int, message: str, param: str | None = None) -> web.Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": None}}, status=status)


class FakeOpenAIServer(ThreadedHTTPServer):
    """Start with :meth:`start`; ``base_url`` ends in ``/v1`` as OPENAI_BASE_URL expects."""

    name = "fake-openai"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.state = FakeOpenAIState()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.state.requests

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/moderations", self._moderations)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        self.state.requests.append(RecordedRequest(request.path, body))
        if self.state.forced_failures:
            status, message = self.state.forced_failures.pop(0)
            return _error(status, message)
        request[_BODY] = body
        response: web.StreamResponse = await handler(request)
        return response

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        model = body.get("model")
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(text, str) for text in inputs):
            return _error(400, "'input' must be a string or a non-empty array of strings.", "input")
        if len(inputs) > MAX_EMBEDDING_INPUTS:
            return _error(400, f"'input' has {len(inputs)} items; the maximum is {MAX_EMBEDDING_INPUTS}.", "input")
        if any(not text for text in inputs):
            return _error(400, "'input' cannot contain an empty string.", "input")
        dimensions = body.get("dimensions") or NATIVE_DIMENSIONS.get(str(model))
        if dimensions is None:
            return _error(404, f"The model `{model}` does not exist.", "model")
        vectors = await HashEmbedder(int(dimensions)).embed(inputs)
        encode_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": base64.b64encode(vector.astype(np.float32).tobytes()).decode()
                if encode_base64
                else vector.tolist(),
            }
            for index, vector in enumerate(vectors)
        ]
        tokens = sum(len(text.split()) for text in inputs)
        return web.json_response(
            {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        )

    async def _chat(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        messages = body.get("messages") or []
        if self.state.chat_reply is not None:
            content = self.state.chat_reply(messages)
        else:
            last = messages[-1].get("content", "") if messages else ""
            content = f"A fitting pick: {str(last)[:200]}"
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    async def _moderations(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        results = []
        for text in inputs or []:
            lowered = str(text).lower()
            hits = {category for term, category in self.state.moderation_terms.items() if term in lowered}
            categories = {category: True for category in hits}
            results.append(
                {
                    "flagged": bool(hits),
                    "categories": categories,
                    "category_scores": {category: 0.99 for category in hits},
                }
            )
        return web.json_response(
            {"id": "modr-fake", "model": body.get("model", "omni-moderation-latest"), "results": results}
        )

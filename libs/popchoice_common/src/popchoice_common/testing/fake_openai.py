"""A fake OpenAI-compatible HTTP server for tests: embeddings, chat completions and moderations.

It is a real aiohttp server on 127.0.0.1 (in a background thread), so the official openai client
talks to it over HTTP exactly as it would to the real API, including ``encoding_format: base64``,
which the client sends by default. Embeddings are the hash embedder's lexical vectors, so texts
that share words are close. Requests are recorded for assertions, and faults can be injected.

Chat answers as a real model does: prose unless JSON is asked for through ``response_format``
(``json_object``: a JSON object; ``json_schema``: JSON that conforms to the schema, refused with
400 when a strict schema breaks the strict-mode rules), so a client that only asks for JSON in its
prompt gets prose back. ``ignores_response_format`` plays a server that does not support it.
Moderation takes a string or a list of strings and answers one result per input, in order.
"""

from __future__ import annotations

import base64
import json
import re
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
#: What the fake's model says when nothing constrains it to JSON (no JSON in it, as a chatty model would).
PROSE_REPLY = "Happy to help! Each of these films suits the quiz in its own way; enjoy the evening."
_BODY = web.RequestKey("body", dict)
_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NUMBERED_ITEM = re.compile(r"^\s*\d+\.\s+(.+?)(?:\s+\(|:|$)", re.MULTILINE)
_LIST_KEY = re.compile(r'"(\w+)"\s*:\s*\[')

Messages = list[dict[str, Any]]


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
    #: Builds the plain-text chat reply (no JSON asked for, or ignored) from the messages; default PROSE_REPLY.
    chat_reply: Callable[[Messages], str] | None = None
    #: Builds the JSON value answered when JSON is asked for; default: built from the schema and the
    #: numbered items of the last message ("1. Heat (1995): ...").
    structured_reply: Callable[[Messages], Any] | None = None
    #: Answer with the plain-text reply whatever ``response_format`` asks (a server without structured output).
    ignores_response_format: bool = False

    def reset(self) -> None:
        self.requests.clear()
        self.forced_failures.clear()
        self.moderation_terms.clear()
        self.chat_reply = None
        self.structured_reply = None
        self.ignores_response_format = False


def _error(status: int, message: str, param: str | None = None) -> web.Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return web.json_response({"error": {"message": message, "type": kind, "param": param, "code": None}}, status=status)


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def listed_items(messages: Messages) -> list[str]:
    """The numbered items of the last message ("1. Heat (1995): ..." gives "Heat"), as a model reads a list."""
    return _NUMBERED_ITEM.findall(_text_of(messages[-1])) if messages else []


def strict_schema_problem(schema: Any, context: str = "()") -> str | None:
    """Why a schema breaks the strict structured-output rules (every object closed, every property required)."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return f"In context={context}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties") or {}
        missing = [name for name in properties if name not in (schema.get("required") or [])]
        if missing:
            return (
                f"In context={context}, 'required' is required to be supplied and to be an array including "
                f"every key in properties. Missing '{missing[0]}'."
            )
        for name, child in properties.items():
            if problem := strict_schema_problem(child, f"{context[:-1]}'properties', '{name}')"):
                return problem
    for key in ("items", "anyOf", "$defs", "definitions"):
        children = schema.get(key)
        if isinstance(children, dict) and key != "items":
            children = list(children.values())
        for child in children if isinstance(children, list) else [children]:
            if problem := strict_schema_problem(child, context):
                return problem
    return None


def instance_of(schema: dict[str, Any], items: list[str], root: dict[str, Any] | None = None, item: str = "") -> Any:
    """A JSON value conforming to the schema: arrays hold one entry per listed item, strings speak of the item."""
    root = root if root is not None else schema
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return instance_of((root.get("$defs") or root.get("definitions") or {})[name], items, root, item)
    if "anyOf" in schema:
        return instance_of(schema["anyOf"][0], items, root, item)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((option for option in kind if option != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {name: instance_of(child, items, root, item) for name, child in schema.get("properties", {}).items()}
    if kind == "array":
        return [instance_of(schema.get("items", {}), items, root, entry) for entry in items or ["the request"]]
    if kind == "string":
        return f"{item}: a fitting pick for this quiz." if item else "A fitting answer."
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    return None


def _json_object_for(messages: Messages) -> dict[str, Any]:
    """A json_object answer: the list the prompt shows (``{"key": [...]}``) filled with the listed items."""
    prompt = " ".join(_text_of(message) for message in messages)
    key = _LIST_KEY.search(prompt)
    if key is None:
        return {"answer": PROSE_REPLY}
    return {key.group(1): [f"{item}: a fitting pick for this quiz." for item in listed_items(messages)]}


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
        if not isinstance(messages, list) or not messages:
            return _error(400, "'messages' must be a non-empty array.", "messages")
        response_format = body.get("response_format") or {"type": "text"}
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            return _error(
                400,
                f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
                "response_format.type",
            )
        if kind == "json_object" and not any("json" in _text_of(message).lower() for message in messages):
            return _error(
                400,
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                "messages",
            )
        schema: dict[str, Any] = {}
        if kind == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema") or {}
            if not _SCHEMA_NAME.match(str(spec.get("name", ""))):
                return _error(400, "Invalid 'response_format.json_schema.name'.", "response_format.json_schema.name")
            if spec.get("strict") and (problem := strict_schema_problem(schema)):
                return _error(400, f"Invalid schema for response_format '{spec['name']}': {problem}", "response_format")
        if kind == "text" or self.state.ignores_response_format:
            content = self.state.chat_reply(messages) if self.state.chat_reply is not None else PROSE_REPLY
        elif self.state.structured_reply is not None:
            content = json.dumps(self.state.structured_reply(messages))
        elif kind == "json_object":
            content = json.dumps(_json_object_for(messages))
        else:
            content = json.dumps(instance_of(schema, listed_items(messages)))
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    async def _moderations(self, request: web.Request) -> web.Response:
        body = request[_BODY]
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(text, str) for text in inputs):
            return _error(400, "'input' must be a string or a non-empty array of strings.", "input")
        results = []
        for text in inputs:
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

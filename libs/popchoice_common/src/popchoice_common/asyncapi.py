"""The AsyncAPI 3.0 document of the job streams, generated from the msgspec event schemas.

``make asyncapi`` (``popchoice-asyncapi``) writes it to docs/asyncapi.json; the gateway serves it.
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

import msgspec

from popchoice_common import __version__, events
from popchoice_common.keyspace import Keyspace

#: Which service's consumer group reads each stream.
CONSUMERS: dict[str, str] = {
    events.RECOMMENDATION_REQUESTED: "recommender",
    events.MORE_PICKS_REQUESTED: "recommender",
    events.MOVIE_SEED_REQUESTED: "catalog-seeder",
    events.CATALOG_SEED_MOVIE: "catalog-seeder",
    events.CATALOG_DISCOVER_PAGE: "discovery",
    events.CATALOG_BACKFILL_MOVIE: "backfill",
    events.CATALOG_RESEED_CURATED: "catalog-seeder",
    events.RECOMMENDATION_COMPLETED: "gateway",
}


def asyncapi_document(prefix: str = "popchoice:") -> dict[str, Any]:
    """Channels (one per stream), operations (who receives what) and message schemas."""
    event_types = list(events.STREAM_EVENTS.values())
    _, schemas = msgspec.json.schema_components(event_types, ref_template="#/components/schemas/{name}")
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for stream, event_type in events.STREAM_EVENTS.items():
        name = event_type.__name__
        channel_id = stream.replace(".", "_").replace("-", "_")
        messages[name] = {
            "name": stream,
            "title": name,
            "summary": inspect.getdoc(event_type) or name,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        channels[channel_id] = {
            "address": Keyspace(prefix).stream(stream),
            "description": (
                f"Redis stream. Each entry has the fields job_id and data (the JSON message). "
                f"Failed messages end in {Keyspace(prefix).dead(stream)}."
            ),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"{CONSUMERS[stream].replace('-', '_')}_receives_{channel_id}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"The {CONSUMERS[stream]} consumer group reads {stream}.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "PopChoice job streams",
            "version": __version__,
            "description": "Events exchanged by the PopChoice services over Redis Streams.",
        },
        "defaultContentType": "application/json",
        "servers": {"redis": {"host": "redis:6379", "protocol": "redis"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def main(argv: list[str] | None = None) -> int:
    """Writes the AsyncAPI document (default docs/asyncapi.json)."""
    parser = argparse.ArgumentParser(prog="popchoice-asyncapi", description=main.__doc__)
    parser.add_argument("--output", type=Path, default=Path("docs/asyncapi.json"))
    parser.add_argument("--prefix", default="popchoice:")
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(asyncapi_document(args.prefix), indent=2) + "\n", encoding="utf-8")
    print(args.output)
    return 0

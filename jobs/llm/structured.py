"""Structured output: the strict JSON-schema `response_format` from a pydantic model, and reply parsing.

Where the endpoint supports it (config `json_schema = true`) the request carries
`response_format={"type": "json_schema", "json_schema": {"name", "schema", "strict": true}}`; either way the
reply text is parsed here (``` fences stripped, the outermost JSON object taken) and validated with pydantic.
"""
from __future__ import annotations

import copy
import json
import re
from functools import lru_cache

from pydantic import BaseModel, ValidationError

_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.S)


@lru_cache(maxsize=256)
def json_schema(schema: type[BaseModel]) -> dict:
    return schema.model_json_schema()


def _strictify(node):
    """OpenAI strict mode: every object closed (additionalProperties false) with all properties required;
    `default` and `title` dropped. Optional fields stay nullable through their anyOf [.., null]."""
    if not isinstance(node, dict):
        return node
    node.pop("default", None)
    node.pop("title", None)
    if node.get("type") == "object" or "properties" in node:
        node["additionalProperties"] = False
        node["required"] = list(node.get("properties", {}))
    for key in ("properties", "$defs", "definitions"):          # name -> schema maps
        for sub in node.get(key, {}).values():
            _strictify(sub)
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):      # lists of schemas
        for sub in node.get(key, []):
            _strictify(sub)
    if isinstance(node.get("items"), dict):
        _strictify(node["items"])
    return node


@lru_cache(maxsize=256)
def _response_format(schema: type[BaseModel]) -> str:
    strict = _strictify(copy.deepcopy(json_schema(schema)))
    return json.dumps({"type": "json_schema",
                       "json_schema": {"name": schema.__name__, "schema": strict, "strict": True}})


def response_format(schema: type[BaseModel]) -> dict:
    return json.loads(_response_format(schema))


def extract_json(text: str) -> str:
    """The JSON document in a reply: fences stripped, else the span from the first '{' to the last '}'."""
    m = _FENCE.match(text)
    if m:
        text = m.group(1)
    text = text.strip()
    if text.startswith("{") or text.startswith("["):
        return text
    i, j = text.find("{"), text.rfind("}")
    return text[i:j + 1] if 0 <= i < j else text


def parse(text: str | None, schema: type[BaseModel]) -> tuple[BaseModel | None, str | None]:
    """(validated model, None) or (None, reason) — never raises."""
    if not text:
        return None, "empty reply"
    try:
        return schema.model_validate_json(extract_json(text)), None
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {}
        kind = "invalid json" if first.get("type") == "json_invalid" else "schema mismatch"
        return None, f"{kind}: {exc.error_count()} error(s), first at {first.get('loc')}: {first.get('msg')}"[:500]

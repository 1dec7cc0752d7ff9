"""Deterministic content for the simulator: replies, tool-call arguments, JSON, embeddings."""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from typing import Any

from proctor.tokens import approx_tokens

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_WORDS = tuple(
    "the gateway routes each request through a pipeline of stages that measure cost latency "
    "and quality so that the application stays reliable under load while every answer is "
    "traced cached guarded and settled against a budget before it returns".split()
)


def seeded_rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.blake2b("\x1f".join((str(seed), *parts)).encode(), digest_size=8)
    return random.Random(int.from_bytes(digest.digest(), "big"))


def reply_text(rng: random.Random, model: str, prompt: str, tokens: int) -> str:
    """A labelled, deterministic reply of roughly `tokens` tokens."""
    quoted = " ".join(prompt.split())[:60]
    head = f"[simulated by sim/{model}] You said: {quoted!r}."
    words = [head]
    used = approx_tokens(head)
    while used < tokens:
        word = rng.choice(_WORDS)
        words.append(word)
        used += approx_tokens(word)
    return " ".join(words)


def split_for_stream(text: str) -> list[str]:
    """Pieces of text as a model would stream them: a word with its leading space."""
    pieces = re.findall(r"\s*\S+", text)
    return pieces or [text]


def value_for_schema(schema: Any, rng: random.Random) -> Any:
    """A plausible value that validates against a JSON schema (local $refs included)."""
    return _SchemaFaker(schema, rng).value(schema, 0)


class _SchemaFaker:
    def __init__(self, root: Any, rng: random.Random) -> None:
        self.root = root if isinstance(root, dict) else {}
        self.rng = rng

    def _resolve(self, ref: Any) -> Any:
        """`#/$defs/Name` (or any local JSON pointer) inside the root schema."""
        node: Any = self.root
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return {}
        for part in ref[2:].split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}

    def value(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > 8:
            return "sim"
        if "$ref" in schema:
            return self.value(self._resolve(schema["$ref"]), depth + 1)
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if "const" in schema:
            return schema["const"]
        for key in ("anyOf", "oneOf", "allOf"):
            alternatives = schema.get(key)
            if isinstance(alternatives, list) and alternatives:
                return self.value(alternatives[0], depth + 1)
        return self._of_type(schema, depth)

    def _of_type(self, schema: dict[str, Any], depth: int) -> Any:
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return [self.value(schema.get("items", {}), depth + 1)]
        return self._scalar(kind)

    def _scalar(self, kind: Any) -> Any:
        rng = self.rng
        if kind == "integer":
            return rng.randint(1, 100)
        if kind == "number":
            return round(rng.uniform(0, 100), 2)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "null":
            return None
        return rng.choice(_WORDS)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = schema.get("required")
        if not isinstance(required, list):
            required = list(props)
        return {k: self.value(props.get(k, {}), depth + 1) for k in required if isinstance(k, str)}


def json_reply(response_format: dict[str, Any], text: str, rng: random.Random) -> str:
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema", {})
        return json.dumps(value_for_schema(schema, rng))
    if kind == "json_object":
        return json.dumps({"answer": text})
    return text


def embedding(text: str, dims: int) -> list[float]:
    """Feature-hashed words and character trigrams, L2-normalised: similar texts are close."""
    vector = [0.0] * dims
    lowered = text.lower()
    features = _TOKEN.findall(lowered)
    padded = f"  {lowered}  "
    features += [padded[i : i + 3] for i in range(len(padded) - 2)]
    for feature in features:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "big") % dims
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]

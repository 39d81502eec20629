"""A fake OpenAI-compatible ``/v1/embeddings`` server and the deterministic embedding it
serves: each word is mapped to a concept (``SYNONYMS`` puts words of one meaning together, as
a semantic model would), each concept to one of ``DIMENSIONS`` axes by CRC32, and the vector is
the normalized count. So "kitten" is near "cat" although the two share no letters to stem."""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

DIMENSIONS = 256
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("cat", "kitten", "feline", "kitty"),
    ("dog", "puppy", "canine", "hound"),
    ("car", "vehicle", "automobile", "sedan"),
    ("doctor", "physician", "gp", "medic"),
    ("money", "cash", "funds", "budget"),
    ("flight", "plane", "airline", "fly"),
    ("food", "meal", "cuisine", "dish", "eat"),
    ("house", "home", "apartment", "flat"),
    ("job", "work", "employer", "office", "career"),
    ("music", "song", "band", "concert"),
    ("sport", "exercise", "workout", "gym"),
    ("book", "novel", "reading", "author"),
    ("child", "kid", "son", "daughter"),
    ("birthday", "anniversary", "celebration"),
    ("allergy", "allergic", "intolerant", "intolerance"),
    ("language", "speak", "fluent", "tongue"),
    ("short", "brief", "concise", "terse"),
    ("long", "detailed", "thorough", "verbose"),
    ("coffee", "espresso", "latte", "caffeine"),
    ("garden", "plants", "flowers", "yard"),
)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "to",
        "in",
        "is",
        "my",
        "i",
        "me",
        "what",
        "do",
        "does",
        "who",
        "where",
        "when",
        "how",
    ]
)


def _concept(word: str) -> str:
    base = word[:-1] if word.endswith("s") and len(word) > 3 else word
    for group in SYNONYM_GROUPS:
        if base in group or word in group:
            return group[0]
    return base


def embed(text: str) -> list[float]:
    vector = [0.0] * DIMENSIONS
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        vector[zlib.crc32(_concept(word).encode()) % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def embeddings_app(calls: list[Sequence[str]] | None = None) -> Starlette:
    """``calls``: each request's inputs, appended as they arrive."""

    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if calls is not None:
            calls.append(texts)
        data = [
            {"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(texts)
        ]
        return JSONResponse({"object": "list", "data": data, "model": body["model"]})

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/v1/embeddings", embeddings, methods=["POST"]), Route("/health", health)]
    )

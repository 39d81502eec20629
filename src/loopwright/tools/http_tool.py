"""HTTP tools: a request a store defines (URL template, method, JSON schema, secret headers).

``call_http_tool`` sends one call. URL placeholders (``{param}``) are filled from the arguments,
URL-encoded; the other arguments travel as the query string (GET, DELETE) or as a JSON body.
Redirects are followed by hand so the egress guard sees every hop, and the tool's own headers
are dropped as soon as a redirect leaves the tool's origin. ``http_tool_client`` is the client
to send with: it connects only to addresses the guard checked. The outcome is always a value,
never an exception: ``(ok, {"status", "body"})`` or ``(False, {"error", ...})``, with every
header value redacted from it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import quote, urlsplit

import httpx2
from jsonschema import Draft202012Validator, SchemaError
from jsonschema.validators import validator_for
from referencing.exceptions import Unresolvable

from loopwright.egress import EgressDenied, EgressGuard, GuardedTransport, no_cookies
from loopwright.tools.spec import ToolArgumentsInvalid

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
HTTP_METHODS: Final[tuple[HttpMethod, ...]] = ("GET", "POST", "PUT", "PATCH", "DELETE")
QUERY_METHODS: Final = frozenset({"GET", "DELETE"})
PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_-]*)\}")
REDACTED: Final = "[redacted]"
_MIN_SECRET_CHARS = 4
_MIN_SECRET_PART_CHARS = 8


@dataclass(frozen=True)
class HttpToolDef:
    """One HTTP tool, with its headers decrypted (kept out of ``repr``)."""

    name: str
    description: str
    url: str
    method: HttpMethod
    parameters: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    read_only: bool = False


def as_method(value: str) -> HttpMethod:
    for method in HTTP_METHODS:
        if value.upper() == method:
            return method
    raise ValueError(f"unsupported HTTP method {value!r}; use one of {', '.join(HTTP_METHODS)}")


def placeholders(url: str) -> list[str]:
    """The ``{param}`` names of a URL template, in order of appearance."""
    return PLACEHOLDER.findall(url)


def template_problems(url: str, parameters: Mapping[str, Any]) -> list[str]:
    """Why a URL template cannot be used with this schema ([] when it can).

    Placeholders may stand only in the path or query (arguments never choose the host), and
    each must be a required property of the schema.
    """
    parts = urlsplit(url)
    problems = []
    if PLACEHOLDER.search(f"{parts.scheme}://{parts.netloc}"):
        problems.append("placeholders may only stand in the URL's path or query, not its host")
    properties = parameters.get("properties", {})
    required = set(parameters.get("required", []))
    for name in placeholders(url):
        if not isinstance(properties, Mapping) or name not in properties:
            problems.append(f"placeholder {{{name}}} is not a property of the parameters schema")
        elif name not in required:
            problems.append(f"placeholder {{{name}}} must be listed in the schema's 'required'")
    return problems


def schema_problems(schema: dict[str, Any]) -> list[str]:
    """Why ``schema`` is not a usable parameters schema ([] when it is): it must be a valid
    JSON Schema (by its ``$schema``, draft 2020-12 by default) of ``"type": "object"``."""
    if not isinstance(schema.get("$schema", ""), str):
        return ["$schema must be a string"]
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return [f"not a valid JSON Schema at {where}: {exc.message}"]
    if schema.get("type") != "object":
        return ['the parameters schema must have "type": "object"']
    return []


def validate_arguments(defn: HttpToolDef, arguments: Mapping[str, Any]) -> None:
    """Raise ``ToolArgumentsInvalid`` unless ``arguments`` fit the tool's schema."""
    cls = validator_for(defn.parameters, default=Draft202012Validator)
    validator = cls(defn.parameters)
    try:
        errors = sorted(validator.iter_errors(dict(arguments)), key=lambda e: e.json_path)
    except Unresolvable as exc:  # remote references are never fetched
        problem = {"loc": [], "message": f"the tool's schema has an unresolvable $ref: {exc}"}
        raise ToolArgumentsInvalid(defn.name, [problem]) from exc
    if errors:
        problems = [
            {"loc": [str(p) for p in e.absolute_path], "message": e.message} for e in errors
        ]
        raise ToolArgumentsInvalid(defn.name, problems)


def http_tool_client(egress: EgressGuard) -> httpx2.AsyncClient:
    """The client HTTP tool calls share: connections through the egress guard, redirects left
    to ``call_http_tool``, and no cookies (the stores share the client)."""
    return httpx2.AsyncClient(
        transport=GuardedTransport(egress),
        follow_redirects=False,
        cookies=no_cookies(),
        trust_env=False,
    )


async def call_http_tool(
    defn: HttpToolDef,
    arguments: Mapping[str, Any],
    *,
    client: httpx2.AsyncClient,
    egress: EgressGuard,
    idempotency_key: str,
    timeout_s: float,
    max_redirects: int = 3,
    max_response_bytes: int = 256_000,
) -> tuple[bool, Any]:
    """Send one call of ``defn``; see the module docstring for the shape of the outcome."""
    redact = _redactor(defn.headers.values())
    try:
        validate_arguments(defn, arguments)
    except ToolArgumentsInvalid as exc:
        return False, {
            "error": "the arguments do not match the tool's schema",
            "problems": exc.problems,
        }
    url, rest = _fill_url(defn.url, arguments)
    exchange = _Exchange(
        defn=defn,
        client=client,
        egress=egress,
        idempotency_key=idempotency_key,
        timeout_s=timeout_s,
        max_redirects=max_redirects,
        max_response_bytes=max_response_bytes,
    )
    try:
        async with asyncio.timeout(timeout_s):
            ok, content = await exchange.run(url, rest)
    except (TimeoutError, httpx2.TimeoutException):
        return False, {"error": f"{defn.name} did not answer within {timeout_s:g} s"}
    except EgressDenied as exc:
        return False, redact({"error": f"egress refused: {exc.message}", "details": exc.details})
    except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
        return False, redact({"error": f"request failed: {type(exc).__name__}: {exc}"})
    return ok, redact(content)


@dataclass
class _Exchange:
    defn: HttpToolDef
    client: httpx2.AsyncClient
    egress: EgressGuard
    idempotency_key: str
    timeout_s: float
    max_redirects: int
    max_response_bytes: int

    async def run(self, url: str, rest: dict[str, Any]) -> tuple[bool, Any]:
        method: str = self.defn.method
        body: dict[str, Any] | None = None
        current = httpx2.URL(url)
        if method in QUERY_METHODS:
            current = current.copy_merge_params(_query(rest))
        else:
            body = rest
        origin = _origin(current)
        headers = {**self.defn.headers, "Idempotency-Key": self.idempotency_key}
        for _hop in range(self.max_redirects + 1):
            await self.egress.check_url(str(current))
            request = self.client.build_request(
                method, current, headers=headers, json=body, timeout=self.timeout_s
            )
            response = await self.client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    current = current.join(response.headers["location"])
                    if _origin(current) != origin:
                        headers = {"Idempotency-Key": self.idempotency_key}
                    if _becomes_get(response.status_code, method):
                        method, body = "GET", None
                    continue
                raw, truncated = await _read_capped(response, self.max_response_bytes)
            finally:
                await response.aclose()
            content: dict[str, Any] = {
                "status": response.status_code,
                "body": _decode(response, raw, truncated),
            }
            if truncated:
                content["truncated"] = True
            return response.is_success, content
        return False, {
            "error": f"more than {self.max_redirects} redirects",
            "status": response.status_code,
        }


def _fill_url(template: str, arguments: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL with its placeholders filled, and the arguments no placeholder used."""
    used: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in arguments:
            return match.group(0)  # the schema requires it; validation already ran
        used.add(name)
        return _path_segment(arguments[name])

    url = PLACEHOLDER.sub(fill, template)
    return url, {k: v for k, v in arguments.items() if k not in used}


def _path_segment(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if text in (".", ".."):
        return text.replace(".", "%2E")  # never a dot segment that climbs the path
    return quote(text, safe="")


def _query(arguments: Mapping[str, Any]) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for key, value in arguments.items():
        values = value if isinstance(value, list) else [value]
        query[key] = [_query_value(v) for v in values if v is not None]
    return query


def _query_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)  # numbers, true/false, and nested values as JSON text


def _origin(url: httpx2.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _becomes_get(status: int, method: str) -> bool:
    """What browsers (and httpx) do: 303 turns into GET, and so do 301/302 after a POST."""
    return (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST")


async def _read_capped(response: httpx2.Response, limit: int) -> tuple[bytes, bool]:
    buffer = bytearray()
    async for chunk in response.aiter_bytes():
        buffer.extend(chunk)
        if len(buffer) > limit:
            return bytes(buffer[:limit]), True
    return bytes(buffer), False


def _decode(response: httpx2.Response, raw: bytes, truncated: bool) -> Any:
    encoding = response.charset_encoding or "utf-8"
    try:
        text = raw.decode(encoding, errors="replace")
    except LookupError:
        text = raw.decode("utf-8", errors="replace")
    if not truncated and "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _redactor(values: Iterable[str]) -> Callable[[Any], Any]:
    """A function that replaces every header value (and each long word of one, such as the
    token after ``Bearer``) with ``[redacted]`` anywhere in a JSON-like value."""
    secrets: set[str] = set()
    for value in values:
        if len(value) >= _MIN_SECRET_CHARS:
            secrets.add(value)
        secrets.update(p for p in value.split() if len(p) >= _MIN_SECRET_PART_CHARS)
    ordered = sorted(secrets, key=len, reverse=True)

    def scrub_text(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, REDACTED)
        return text

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return scrub_text(value)
        if isinstance(value, dict):
            return {scrub(k): scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [scrub(v) for v in value]
        return value

    return scrub if ordered else (lambda value: value)

"""A local OTLP/HTTP traces receiver for the bench: takes ExportTraceServiceRequest bodies,
counts their spans (``GET /count``) and answers as a collector does.

    .venv/bin/python -m uvicorn bench.otlp_sink:app --port 4318
"""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SPANS = [0]
OK = ExportTraceServiceResponse().SerializeToString()


async def traces(request: Request) -> Response:
    message = ExportTraceServiceRequest()
    message.ParseFromString(await request.body())
    SPANS[0] += sum(
        len(scope.spans) for resource in message.resource_spans for scope in resource.scope_spans
    )
    return Response(OK, media_type="application/x-protobuf")


async def count(request: Request) -> Response:
    return JSONResponse({"spans": SPANS[0]})


async def health(request: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[
        Route("/v1/traces", traces, methods=["POST"]),
        Route("/count", count),
        Route("/health", health),
    ]
)

"""Typed events: every event type has a payload model and an envelope in the discriminated
union, the models refuse what does not match, and /openapi.json publishes them all.

That every event the suite produces matches its model is checked by ``tests/event_audit.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from loopwright.db.repos.workspace import DOCUMENT_FIELDS, PROJECT_FIELDS, TASK_FIELDS
from loopwright.domain import resource_payloads
from loopwright.domain.events import EPHEMERAL_TYPES, EventType
from loopwright.domain.public_events import (
    PAYLOAD_MODELS,
    EventEnvelope,
    RunCompletedEvent,
    RunQueuedEvent,
    payload_model,
    validate_event,
)
from loopwright.server.schemas.agents import AgentUpdate
from loopwright.server.schemas.conversations import SessionUpdate
from tests.conftest import Live
from tests.event_audit import EventAudit

EVENT_TYPES = get_args(EventType)
NOW = "2026-12-02T10:00:00+00:00"


def event(type_: str, payload: dict[str, Any], seq: int | None = 7) -> dict[str, Any]:
    return {
        "seq": seq,
        "type": type_,
        "session_id": "ses_1",
        "run_id": "run_1",
        "created_at": NOW,
        "payload": payload,
    }


QUEUED = {"agent_id": "agt_1", "priority": "normal", "trigger": "api"}


def test_every_event_type_has_one_payload_model_and_one_envelope() -> None:
    assert sorted(PAYLOAD_MODELS) == sorted(EVENT_TYPES)
    envelopes = [get_args(e.model_fields["type"].annotation)[0] for e in get_args(EventEnvelope)]
    assert sorted(envelopes) == sorted(EVENT_TYPES)
    assert len(set(PAYLOAD_MODELS.values())) == len(EVENT_TYPES)  # no two types share a model
    with pytest.raises(KeyError):
        payload_model("note.added")


def test_a_valid_event_becomes_its_types_envelope() -> None:
    parsed = validate_event(event("run.queued", QUEUED))
    assert isinstance(parsed, RunQueuedEvent)
    assert parsed.payload.priority == "normal"
    assert parsed.created_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("public", "wrong"),
    [
        (event("run.queued", {"agent_id": "agt_1", "priority": "normal"}), "trigger"),
        (event("run.queued", {**QUEUED, "extra": 1}), "extra"),
        (event("run.queued", {**QUEUED, "priority": "urgent"}), "priority"),
        (event("llm.text_delta", {"step": "0", "delta": "x"}, seq=None), "step"),
        (event("llm.text_delta", {"step": 0, "delta": "x"}, seq=3), "seq"),
        (event("run.queued", QUEUED, seq=None), "seq"),
        (event("note.added", {}), "note.added"),
        ({**event("run.queued", QUEUED), "created_at": "2026-12-02T10:00:00"}, "created_at"),
        (
            event(
                "tool.failed",
                {
                    "step": 0,
                    "call_id": "c1",
                    "tool": "create_task",
                    "ok": True,
                    "outcome": "error",
                    "result": {"error": "x"},
                    "duration_ms": 1.0,
                },
            ),
            "ok",
        ),
    ],
    ids=[
        "missing field",
        "unknown field",
        "value outside its Literal",
        "no coercion",
        "a delta has no seq",
        "a stored event has a seq",
        "unknown type",
        "naive timestamp",
        "failed tool call with ok true",
    ],
)
def test_a_wrong_event_is_refused_naming_what_is_wrong(public: dict[str, Any], wrong: str) -> None:
    with pytest.raises(ValidationError, match=wrong):
        validate_event(public)


def test_optional_fields_may_be_absent() -> None:
    usage = {"input_tokens": 1, "output_tokens": 2}
    done = {"status": "completed", "stop_reason": "final_answer", "usage": usage}
    completed = validate_event(event("run.completed", done))
    assert isinstance(completed, RunCompletedEvent)
    assert completed.payload.error is None
    failed = {"status": "failed", "stop_reason": "model_error", "usage": usage}
    with pytest.raises(ValidationError, match="error"):  # a failed run says why
        validate_event(event("run.failed", failed))


def test_changed_field_names_are_the_resources_own() -> None:
    """An update event's ``fields`` names what the request (or the repository) may change."""
    assert set(get_args(resource_payloads.AgentField)) == set(AgentUpdate.model_fields)
    session_fields = resource_payloads.SessionUpdatedPayload.model_fields["fields"].annotation
    assert set(get_args(get_args(session_fields)[0])) == set(SessionUpdate.model_fields)
    assert get_args(resource_payloads.ProjectField) == PROJECT_FIELDS
    assert get_args(resource_payloads.TaskField) == TASK_FIELDS
    assert get_args(resource_payloads.DocumentField) == DOCUMENT_FIELDS


async def test_openapi_publishes_every_envelope_payload_and_the_union(live: Live) -> None:
    doc = (await live.http.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    union = schemas["PublicEvent"]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "type"
    assert sorted(mapping) == sorted(EVENT_TYPES)
    for type_, model in PAYLOAD_MODELS.items():
        envelope = mapping[type_].rsplit("/", 1)[1]
        assert schemas[envelope]["properties"]["type"]["const"] == type_
        payload_ref = schemas[envelope]["properties"]["payload"]["$ref"]
        assert payload_ref == f"#/components/schemas/{model.__name__}"
        assert model.__name__ in schemas
        seq = schemas[envelope]["properties"]["seq"]
        assert seq["type"] == ("null" if type_ in EPHEMERAL_TYPES else "integer")

    content = doc["paths"]["/v1/stores/{store_id}/events"]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"]["$ref"] == "#/components/schemas/EventPage"
    page_items = schemas["EventPage"]["properties"]["items"]["items"]
    assert page_items["$ref"] == "#/components/schemas/PublicEvent"
    data = content["text/event-stream"]["itemSchema"]["properties"]["data"]
    assert data["contentSchema"]["$ref"] == "#/components/schemas/PublicEvent"


def test_the_api_docs_list_every_event_type() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "api.md").read_text()
    section = docs.split("### Event payloads", 1)[1]
    missing = [
        t
        for t in EVENT_TYPES
        if f"`{t}`" not in section and f"`{t.split('.')[0]}.*`" not in section
    ]
    assert missing == []


def test_the_audit_reports_each_invalid_event() -> None:
    audit = EventAudit()
    audit.check(event("run.queued", QUEUED), "here")
    assert not audit.problems
    audit.check(event("run.queued", {"agent_id": "agt_1"}), "here")
    audit.check(event("run.queued", {"agent_id": "agt_2"}), "here")
    [(where, type_, wrong)] = audit.problems
    assert (where, type_) == ("here", "run.queued")
    assert "payload.priority: Field required" in wrong
    assert "2 invalid events" in audit.report()
    assert audit.checked["run.queued"] == 3

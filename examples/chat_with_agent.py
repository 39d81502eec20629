"""Create an agent and chat with it through the Python client: the answer printed as it
streams, a line per tool call.

    export LOOPWRIGHT_URL=http://127.0.0.1:8080 LOOPWRIGHT_KEY=<admin key>
    python examples/chat_with_agent.py
"""

from __future__ import annotations

import uuid

from loopwright.client import Client
from loopwright.client.events import (
    LlmTextDeltaEvent,
    RunCompletedEvent,
    ToolCompletedEvent,
    ToolExecutingEvent,
)


def main() -> None:
    with Client() as lw:  # LOOPWRIGHT_URL and LOOPWRIGHT_KEY; the key's own store
        agent = lw.agents.create(
            name=f"helper-{uuid.uuid4().hex[:6]}", tools=["create_task", "list_tasks"]
        )
        session = lw.sessions.create(agent.id, title="example")
        for text in ("create a task called Buy milk", "list my tasks"):
            print(f"you> {text}")
            for event in lw.sessions.send(session.id, text, stream=True):
                match event:
                    case LlmTextDeltaEvent():
                        print(event.payload.delta, end="", flush=True)
                    case ToolExecutingEvent():
                        print(f"[calling {event.payload.tool}]")
                    case ToolCompletedEvent():
                        print(f"[{event.payload.tool} took {event.payload.duration_ms:.0f} ms]")
                    case RunCompletedEvent():
                        print(f"\n({event.payload.status}: {event.payload.stop_reason})")
                    case _:
                        pass


if __name__ == "__main__":
    main()

"""The offline demo end to end through the client, with no model provider: an agent files
tasks in projects, then a team agent plans a comparison of the projects and its executors
read each one.

    LOOPWRIGHT_KEY=<admin key> python examples/offline_demo.py
"""

from __future__ import annotations

import uuid

from loopwright.client import Client

WORKSPACE_TOOLS = ["create_project", "create_task", "list_projects", "list_tasks", "read_project"]


def main() -> None:
    suffix = uuid.uuid4().hex[:6]
    with Client() as lw:
        helper = lw.agents.create(name=f"demo-{suffix}", tools=WORKSPACE_TOOLS)
        chat = lw.sessions.create(helper.id)
        for text in (
            "create a project called Home",
            "create a project called Garden",
            "create a task called Buy milk in project Home",
            "list my tasks",
        ):
            sent = lw.sessions.send(chat.id, text, wait=True, wait_timeout_s=60)
            answer = lw.sessions.messages(chat.id, order="newest", limit=1).items[0]
            print(f"you> {text}\n{answer.content}  [{sent.run.status}]")

        planner = lw.agents.create(
            name=f"team-{suffix}", mode="team", tools=["list_projects", "read_project"]
        )
        team_chat = lw.sessions.create(planner.id)
        print("you> compare my projects")
        for event in lw.sessions.send(team_chat.id, "compare my projects", stream=True):
            if event.type in ("analysis", "plan.created", "plan.step_completed", "run.completed"):
                print(f"  {event.type}")
        run = lw.runs.list(session_id=team_chat.id, limit=1).items[0]
        plan = lw.plans.list(run_id=run.id).items[0]
        detail = lw.plans.get(plan.id)
        print(f"plan {detail.status}: {len(detail.steps)} steps")
        print(lw.sessions.messages(team_chat.id, order="newest", limit=1).items[0].content)


if __name__ == "__main__":
    main()

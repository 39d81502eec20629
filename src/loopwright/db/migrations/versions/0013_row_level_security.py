"""Row-level security on every tenant table (PostgreSQL): the second wall

A NOLOGIN role, ``loopwright_tenant``, may read and write the app's tables; on each tenant
table (every one with ``store_id``) a policy shows it only the rows of the store the
transaction names in ``app.store_id``, and lets it write only rows of that store. The app
takes the role and names the store at the start of each store-scoped transaction
(``db/row_security.py``); cross-store transactions run as the connecting user, the tables'
owner, which the policies do not restrict. ``stores`` (no ``store_id``: the tenants
themselves) and DBOS's tables (its own database) are not under a policy.

The role belongs to the cluster, not to this database: it is made if missing (several
databases of one cluster share it) and the downgrade leaves it. A migrating user that is not
a superuser needs CREATEROLE the first time, or an operator makes the role beforehand; it is
then made a member of the role, so it may take it. SQLite has no row-level security: nothing
to do there.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 01:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "loopwright_tenant"
POLICY = "store_isolation"
TENANT_TABLES = (
    "agent_messages",
    "agents",
    "api_keys",
    "approvals",
    "deliveries",
    "documents",
    "events",
    "http_tools",
    "mail_senders",
    "mailboxes",
    "mcp_servers",
    "memories",
    "memory_suggestions",
    "messages",
    "plan_steps",
    "plans",
    "projects",
    "providers",
    "run_steps",
    "runs",
    "schedule_fires",
    "schedules",
    "sessions",
    "signing_keys",
    "tasks",
    "tool_calls",
    "usage_counters",
    "webhook_receipts",
    "webhooks",
)
# A transaction of one store still reads and locks its store's row (the event counter,
# admission's lock, the store's settings).
SHARED_TABLES = ("stores",)
# A run's claim (fencing) reads its worker's row, which belongs to no store.
READ_TABLES = ("workers",)

_CREATE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
        CREATE ROLE {ROLE} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- made meanwhile by the migration of another database of the cluster
END
$$
"""
_JOIN_ROLE = f"""
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
        EXECUTE format('GRANT {ROLE} TO %I', current_user);
    END IF;
END
$$
"""


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(_CREATE_ROLE)
    op.execute(_JOIN_ROLE)
    for table in SHARED_TABLES + TENANT_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {ROLE}")
    for table in READ_TABLES:
        op.execute(f"GRANT SELECT ON {table} TO {ROLE}")
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {POLICY} ON {table} TO {ROLE} "
            f"USING (store_id = current_setting('app.store_id', true))"
        )


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES:
        op.execute(f"DROP POLICY {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table in SHARED_TABLES + TENANT_TABLES + READ_TABLES:
        op.execute(f"REVOKE ALL ON {table} FROM {ROLE}")

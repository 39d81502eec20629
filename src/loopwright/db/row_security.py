"""Row-level security on PostgreSQL: the second wall behind the repositories' store filters.

Every tenant table (one with ``store_id``) has a policy (migration 0013) that shows the role
``loopwright_tenant`` only the rows of the store named by the transaction's ``app.store_id``
setting, and lets it write only rows of that store. A store-scoped transaction
(``Database.read(store_id)`` / ``write(store_id)``) takes that role and names its store with
one statement, so a query that forgets its store filter returns nothing of another store.
A transaction that legitimately spans stores says so (``ALL_STORES``) and runs as the
connecting user, which owns the tables (or is a superuser) and so is not subject to the
policies. Both settings are ``LOCAL``: they end with the transaction, so a pooled connection
never carries one store's scope into the next transaction. A read unit's statement may run
in a transaction of its own, the simple query protocol's implicit one (``IN_STORE`` and the
statement in one query): the settings then end with it. SQLite has no row-level security:
there the scope is only a name.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

TENANT_ROLE: Final = "loopwright_tenant"
STORE_SETTING: Final = "app.store_id"
POLICY: Final = "store_isolation"


class Scope(Enum):
    ALL_STORES = "all stores"


ALL_STORES: Final = Scope.ALL_STORES
"""The explicit cross-store mode: operator endpoints, the sweeps and pollers that serve every
store (admission, scheduler, callbacks outbox, reflection), API-key lookup, store creation
and deletion. Anything else names its store."""

StoreScope = str | Scope

IN_STORE: Final = (
    b"SELECT set_config('role', '" + TENANT_ROLE.encode() + b"', true),"
    b" set_config('" + STORE_SETTING.encode() + b"', %s, true)"
)
"""The tenant role and the store for the transaction this runs in, the store bound as an
escaped literal (a read unit's statement sends it in the same query: ``Database.read``)."""
BEGIN_IN_STORE: Final = b"BEGIN; " + IN_STORE
"""The transaction's ``BEGIN``, then the tenant role and the store for this transaction only,
in the simple query protocol (the store bound as an escaped literal): what a store-scoped
unit sends with its first statement (``Database``, ``PgSession.begin_later``)."""
BEGIN_IN_STORE_RESULTS: Final = 2
"""The results ``BEGIN_IN_STORE`` gives back: the ``BEGIN``'s and the ``SELECT``'s."""

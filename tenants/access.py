"""Per-tenant access on a real ClickHouse server: a user, row policies, and SELECT on the tenant
views only. chdb has no access control, so embedded mode relies on every view requiring the
tenant parameter; the statements here are tested for syntax with EXPLAIN AST.

Effect on a server:
- the user `tenant_<id>` can SELECT the tenant_* views and the tables they read
  (tenant_calls, tenant_calls_by_caller, tenant_saved_analyses) and nothing else: not cdr, not other tenants' anything;
- the row policies make those tables show it only rows with tenant = '<id>'. The views run
  with the caller's rights (SQL SECURITY INVOKER), so a view called with another tenant's name
  returns nothing rather than that tenant's calls;
- users without any policy on the tables (the operator, the worker) keep seeing every row
  (server setting users_without_row_policies_can_read_rows, true by default);
- no INSERT: row policies do not filter writes, so saved analyses are written by the operator
  (`cdrflow tenants notebook save`), never by the tenant's user.
DDL cannot take bind parameters, so identifiers and literals are validated and quoted here.
"""
from __future__ import annotations

import re
import secrets

from cdrflow.infra.config import Settings
from cdrflow.tenants.views import VIEWS

_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# every table a tenant view reads: each needs the policy, or a view over it leaks or is refused
GUARDED_TABLES = ("tenant_calls", "tenant_calls_by_caller", "tenant_saved_analyses")


def check_tenant(tenant: str) -> str:
    if not _TENANT_ID.match(tenant):
        raise ValueError(f"invalid tenant id {tenant!r}: lower-case letters, digits, '_' and '-' (≤ 63)")
    return tenant


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def user_of(tenant: str) -> str:
    return f"tenant_{check_tenant(tenant)}"


def grant_statements(settings: Settings, tenant: str, password: str) -> list[str]:
    """The statements that give `tenant` its own read-only user; safe to run again."""
    user, db = quote_identifier(user_of(tenant)), quote_identifier(settings.clickhouse_database)
    statements = [f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_password BY {quote_literal(password)} "
                  f"DEFAULT DATABASE {db}"]
    for table in GUARDED_TABLES:
        statements.append(f"CREATE ROW POLICY OR REPLACE {quote_identifier(user_of(tenant) + '_' + table)} "
                          f"ON {db}.{quote_identifier(table)} FOR SELECT "
                          f"USING tenant = {quote_literal(tenant)} TO {user}")
        statements.append(f"GRANT SELECT ON {db}.{quote_identifier(table)} TO {user}")
    statements += [f"GRANT SELECT ON {db}.{quote_identifier('tenant_' + view)} TO {user}" for view in VIEWS]
    return statements


def new_password() -> str:
    return secrets.token_urlsafe(24)

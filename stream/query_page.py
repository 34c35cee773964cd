"""The worker's /query page: any SQL on the embedded chdb the worker owns, for `cdrflow query` and the live view.

It has no authentication, so it is served only where nobody but this host's users can reach it: on a
loopback bind. Elsewhere (a pod binds 0.0.0.0 for probes and metrics) /query answers 403 with the
reason, and clients query the ClickHouse server itself.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Awaitable, Callable

import faust
import orjson

from cdrflow.infra.config import Settings

log = logging.getLogger("cdrflow.stream")


def is_loopback(bind: str) -> bool:
    """127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and "localhost"; any other name or address is not."""
    if bind.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        return False  # a host name could resolve anywhere
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def query_refusal(settings: Settings) -> str | None:
    """Why this worker does not serve /query, or None when it does."""
    if not settings.embedded_clickhouse:
        return "ClickHouse is a server here: query it directly, not through the worker"
    if not is_loopback(settings.worker_web_bind):
        return (f"the worker's web port binds {settings.worker_web_bind!r}, not a loopback address, and /query "
                "runs any SQL without authentication; set CDRFLOW_WORKER_WEB_BIND=127.0.0.1 to serve it")
    return None


def add_query_page(app: faust.App, settings: Settings, run_sql: Callable[[str, dict | None], Awaitable]) -> None:
    """/query runs `run_sql(sql, parameters)` (a clickhouse-connect QueryResult) or refuses with the reason."""
    refusal = query_refusal(settings)

    @app.task
    async def announce_query_page():
        # a task, so the line goes through the worker's logging (configured after the app is built)
        if refusal is None:
            log.info("/query is on: %s:%s is a loopback address", settings.worker_web_bind, settings.worker_web_port)
        else:  # a warning where users expect `cdrflow query` to go through the worker
            log.log(logging.WARNING if settings.embedded_clickhouse else logging.INFO, "/query is off: %s", refusal)

    if refusal is not None:
        @app.page("/query")
        class RefusedQueryView(faust.web.View):
            async def get(self, request):
                return self.refuse()

            async def post(self, request):
                return self.refuse()

            def refuse(self):
                return self.bytes(orjson.dumps({"error": f"/query is off: {refusal}"}),
                                  content_type="application/json", status=403)
        return

    @app.page("/query")
    class QueryView(faust.web.View):
        async def post(self, request):
            try:
                body = orjson.loads(await request.read())
                result = await run_sql(body["sql"], body.get("parameters") or None)
            except Exception as exc:
                return self.bytes(orjson.dumps({"error": str(exc)}), content_type="application/json", status=400)
            payload = {"columns": list(result.column_names), "rows": result.result_rows}
            return self.bytes(orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS),
                              content_type="application/json")

"""`cdrflow notify`: webhook and email of incident and alarm events (stream/notifier.py)."""
from __future__ import annotations

import typer

from cdrflow.cli.output import fail
from cdrflow.infra.config import Settings


def notify(loglevel: str = typer.Option("info", help="Log level (each delivery is logged at info)")) -> None:
    """Send opened, updated and resolved incidents and alarms to the configured webhook and email (CDRFLOW_NOTIFY__*);
    each version once, also across restarts; a down endpoint is retried until it takes them."""
    import logging
    import signal
    import threading

    from cdrflow.infra.runtime import bootstrap_servers
    from cdrflow.stream.notifier import run_notifier

    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        run_notifier(settings, bootstrap_servers(settings), stop)
    except ValueError as exc:
        fail(str(exc))

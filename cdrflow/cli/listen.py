"""`cdrflow listen …`: receive CDRs that devices send over the network, and publish them."""
from __future__ import annotations

from typing import Optional
from zoneinfo import ZoneInfo

import typer

from cdrflow.cli.output import console, fail
from cdrflow.infra.config import Settings

listen_app = typer.Typer(help="Receive CDRs sent over the network (syslog) and publish them.", no_args_is_help=True)


@listen_app.command("syslog")
def syslog(
    udp: Optional[int] = typer.Option(None, help="UDP port to receive syslog on (syslog's own is 514)"),
    tcp: Optional[int] = typer.Option(None, help="TCP port (RFC 6587: octet-counted or newline-framed)"),
    bind: str = typer.Option("0.0.0.0", help="Address to listen on"),
    format: str = typer.Option("audiocodes_syslog", help="Format of the CDR lines (see `cdrflow formats`)"),
    source: str = typer.Option("sbc-1", help="Id of the SBC/switch sending (part of every cdr_id)"),
) -> None:
    """Publish CDR lines received over syslog; SIGTERM or Ctrl-C publishes what arrived, then stops.
    UDP cannot be replayed and TCP syslog has no acknowledgement: see producers/syslog_listener.py."""
    from cdrflow.producers.formats import parser_for
    from cdrflow.producers.heartbeat import Heartbeat
    from cdrflow.producers.publisher import Publisher
    from cdrflow.producers.syslog_listener import SyslogListener
    from cdrflow.infra.runtime import bootstrap_servers

    if udp is None and tcp is None:
        fail("give --udp PORT and/or --tcp PORT")
    settings = Settings()
    try:
        parser = parser_for(format)
        publisher = Publisher(bootstrap_servers(settings), settings)
        listener = SyslogListener(source, parser, publisher, ZoneInfo(settings.source_timezone),
                                  flush_s=settings.syslog_flush_s,
                                  heartbeat=Heartbeat(settings.resolved_data_dir / "heartbeat" / source))
    except ValueError as exc:
        fail(str(exc))
    try:
        stats = listener.run(bind, udp, tcp)
    finally:
        publisher.close()
    console.print(f"{stats.lines} messages → {stats.cdrs} CDRs published, {stats.dead_letters} dead letters"
                  + (f", {listener.unpublished} not acknowledged by the broker" if listener.unpublished else ""))

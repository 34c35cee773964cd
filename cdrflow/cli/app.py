"""`cdrflow`: one command for every user action; each calls a library function tests call too."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from cdrflow.cli.check import LAYOUT_HELP, check
from cdrflow.cli.dashboards import dashboards_app
from cdrflow.cli.incidents import incidents_app
from cdrflow.cli.listen import listen_app
from cdrflow.cli.notify import notify
from cdrflow.cli.numbers import numbers_app
from cdrflow.cli.output import console, fail, fail_query
from cdrflow.cli.tenants import report, tenants_app
from cdrflow.infra.config import Settings

app = typer.Typer(help="Streaming analytics for carrier CDRs: Kafka → Faust → ClickHouse → Grafana.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.command()
def up(
    ingest: Optional[Path] = typer.Option(None, help="Watch this directory of CDR files instead of simulating"),
    format: Optional[str] = typer.Option(None, help="Format of the files in --ingest, or auto (default asterisk_csv)"),
    layout: Optional[Path] = typer.Option(None, help=LAYOUT_HELP),
    rate: float = typer.Option(300.0, help="Simulated calls per second"),
    duration: Optional[float] = typer.Option(None, help="Stop after this many seconds (default: until Ctrl-C)"),
    history_minutes: float = typer.Option(50.0, help="Minutes of simulated history published at once (detector "
                                          "baselines need 20, ending 15-25 minutes before a minute judged)"),
    demo_fault: bool = typer.Option(True, help="On the demo world, script a fault: att's answers collapse "
                                    "a few minutes in, then recover"),
    demo_fault_at: float = typer.Option(2.0, help="Minutes from now the scripted fault starts (negative: inside "
                                        "the history)"),
    screenshot: Optional[Path] = typer.Option(None, help="On stopping, draw the live view's last frame to this PNG"),
) -> None:
    """Start the whole pipeline locally (broker, worker, producer) with a live view; Ctrl-C stops it.
    With nothing configured it shows the demo world (tenants, number inventory, a scripted fault)."""
    from cdrflow.cli.check import resolve_parser
    from cdrflow.stack import Stack

    if ingest is not None:
        _, parser = resolve_parser(format, layout, [ingest], default="asterisk_csv")   # a bad layout stops here
        format = parser.format_name
    with Stack(Settings()) as stack:
        stack.start(ingest=ingest, format=format, rate=rate, layout=layout, history_minutes=history_minutes,
                    demo_fault_at=demo_fault_at if demo_fault else None)
        stack.watch(duration)
    if screenshot and stack.last_frame is not None:
        from cdrflow.screenshot import screenshot_png

        screenshot_png(stack.last_frame, screenshot)


@app.command()
def broker() -> None:
    """Run the local Tansu broker in the foreground (what `up` starts for you)."""
    from cdrflow.infra.kafka_admin import ensure_topics, pipeline_topics
    from cdrflow.infra.local_broker import LocalBroker
    from cdrflow.infra.runtime import clear_state, publish_state

    settings = Settings()
    with LocalBroker() as local:
        ensure_topics(local.bootstrap, pipeline_topics(settings))
        publish_state(settings, "broker", bootstrap=local.bootstrap)
        console.print(f"Tansu broker on {local.bootstrap} (memory storage); Ctrl-C stops it")
        try:
            local.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            clear_state(settings, "broker")


@app.command()
def migrate() -> None:
    """Apply the ClickHouse migrations that have not run yet (safe to run again)."""
    from cdrflow.clickhouse.client import connect
    from cdrflow.clickhouse.migrate import MigrationError, migrate as run

    settings = Settings()
    try:
        applied = run(connect(settings), settings)
    except MigrationError as exc:
        console.print(str(exc), style="red", markup=False)
        raise typer.Exit(1) from None
    console.print(f"applied: {', '.join(applied)}")


@app.command()
def worker(loglevel: str = typer.Option("warning")) -> None:
    """Run a Faust stream worker (ingest agent) against the configured Kafka and ClickHouse."""
    from cdrflow.infra.runtime import bootstrap_servers
    from cdrflow.stream.app import run_worker

    settings = Settings()
    sys.argv = [sys.argv[0], "worker"]  # Faust parses its own command line
    run_worker(settings, bootstrap_servers(settings), loglevel)


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="CDR files or directories"),
    format: Optional[str] = typer.Option(None,
                                         help="CDR format (see `cdrflow formats`), or auto (default asterisk_csv)"),
    layout: Optional[Path] = typer.Option(None, help=LAYOUT_HELP),
    source: str = typer.Option("switch-1", help="Id of the switch/SBC that wrote the files"),
    pattern: str = typer.Option("*", help="File name pattern inside directories"),
    follow: bool = typer.Option(False, help="Keep tailing files and directories for new records"),
) -> None:
    """Publish CDR files to Kafka, resuming from checkpoints; malformed lines go to the dead-letter topic."""
    from cdrflow.producers.checkpoint import CheckpointError, CheckpointStore
    from cdrflow.producers.dbf_source import DbfSource
    from cdrflow.producers.file_source import FileSource
    from cdrflow.producers.heartbeat import Heartbeat
    from cdrflow.producers.parsing import RecordParser
    from cdrflow.producers.publisher import Publisher
    from cdrflow.producers.stored_checkpoint import StoredConfirmations
    from cdrflow.infra.runtime import bootstrap_servers

    from cdrflow.cli.check import resolve_parser

    settings, parser = resolve_parser(format, layout, paths, pattern, default="asterisk_csv")
    bootstrap = bootstrap_servers(settings)
    # a file source resumes from what the worker stored on the local (memory-only) broker
    durable = settings.embedded_broker and not isinstance(parser, RecordParser)
    try:
        checkpoints = CheckpointStore(settings.resolved_data_dir / "checkpoints" / f"{source}.json",
                                      resume_from_stored=durable)
    except CheckpointError as exc:
        fail(str(exc))
    publisher = Publisher(bootstrap, settings)
    common = dict(source=source, paths=paths, parser=parser, publisher=publisher, pattern=pattern,
                  checkpoints=checkpoints, timezone=ZoneInfo(settings.source_timezone),
                  heartbeat=Heartbeat(settings.resolved_data_dir / "heartbeat" / source))
    # tables of records (DBF) have their own source; every other format is read by lines
    file_source = (DbfSource(**common, settle_after_s=settings.dbf_settle_s) if isinstance(parser, RecordParser)
                   else FileSource(**common,
                                   confirmations=StoredConfirmations(bootstrap, settings) if durable else None))
    stops = StopSignals()
    try:
        stats = file_source.run(follow=follow, stop=stops.requested)
        if isinstance(file_source, FileSource):
            # when following, a stop waits for the worker to store what was published, so a restart
            # re-reads nothing; a one-shot run notes what is stored already and leaves
            left = file_source.settle(stop=lambda: stops.count > 1 or not follow, on_wait=stops.report_wait)
            if left:
                console.print(f"stopped with {left:,} published CDRs not yet confirmed stored: "
                              "the next run publishes them again")
    finally:
        publisher.close()
    console.print(f"{stats.lines} lines → {stats.cdrs} CDRs published, {stats.dead_letters} dead letters"
                  + (f" {stats.reasons}" if stats.reasons else ""))


class StopSignals:
    """SIGINT, SIGTERM and SIGHUP ask a producer to stop after its current chunk; a second one
    also stops the wait for the worker's confirmation."""

    def __init__(self):
        import signal

        self.count, self._reported = 0, 0.0
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame) -> None:
        self.count += 1

    def requested(self) -> bool:
        return self.count > 0

    def report_wait(self, left: int) -> None:
        if time.monotonic() - self._reported >= 5:
            self._reported = time.monotonic()
            console.print(f"stopping: waiting for the worker to store {left:,} published CDRs "
                          "(signal again to stop now)")


@app.command()
def probe(
    heartbeat: Path = typer.Argument(..., help="Heartbeat file of a producer (<data dir>/heartbeat/<source>)"),
    max_age: float = typer.Option(120.0, help="Seconds since the last beat after which the producer is not alive"),
) -> None:
    """Liveness probe of a producer: exit 0 when it polled and was acknowledged within --max-age seconds."""
    from cdrflow.producers.heartbeat import heartbeat_age_s

    age = heartbeat_age_s(heartbeat)
    if age is None:
        fail(f"no heartbeat at {heartbeat}: the producer has not completed a poll yet")
    if age > max_age:
        fail(f"last heartbeat {age:.0f} s ago (limit {max_age:.0f} s): the producer stopped polling")
    console.print(f"alive: last heartbeat {age:.1f} s ago")


@app.command()
def formats() -> None:
    """List the CDR formats producers can read and the CDR fields each fills."""
    from cdrflow.producers.formats import describe_formats

    for name, summary, fields in describe_formats():
        console.print(f"[bold]{name}[/bold]: {summary}\n  fills: {', '.join(fields)}")


@app.command()
def simulate(
    rate: float = typer.Option(300.0, help="Calls per second (event time)"),
    count: Optional[int] = typer.Option(None, help="Stop after this many CDRs (default: run until Ctrl-C)"),
    seed: int = typer.Option(1),
    fast: bool = typer.Option(False, help="Publish as fast as possible instead of in real time"),
    fault: list[str] = typer.Option([], help="INTERCONNECT:KIND:START_MIN:MINUTES (minutes from now), KIND one of "
                                              "answer_collapse, traffic_vanish, network_causes"),
    history_minutes: float = typer.Option(0.0, help="Start the event clock this many minutes ago (never before "
                                          "where the last run stopped): that traffic is published at once"),
) -> None:
    """Publish realistic carrier CDRs (several SBCs/switches, diurnal load, cause mix, injected faults)."""
    from cdrflow.producers.publisher import Publisher
    from cdrflow.producers.simulate import Fault, as_written, default_config, generate, paced
    from cdrflow.producers.simulator_source import SimulatedUntil, publish_stream
    from cdrflow.infra.runtime import bootstrap_servers

    settings = Settings()
    now_ms = int(time.time() * 1000)
    resume = SimulatedUntil(settings.resolved_data_dir / "simulated_until.json")
    start_ms = now_ms if fast else resume.history_start(now_ms, history_minutes)
    faults = []
    for spec in fault:
        try:
            ic, kind, start_min, minutes = spec.split(":")
            begin = now_ms + int(float(start_min) * 60_000)
            faults.append(Fault(ic, kind, begin, begin + int(float(minutes) * 60_000)))
        except ValueError:
            fail(f"bad --fault {spec!r}: want INTERCONNECT:KIND:START_MIN:MINUTES")
    cfg = default_config(settings, seed=seed, calls_per_second=rate, start_ms=start_ms, faults=tuple(faults))
    cdrs = as_written(generate(cfg, count=count))   # CDRs appear when calls end, as a switch writes them
    publisher = Publisher(bootstrap_servers(settings), settings)
    batch = settings.batch_max_cdrs if fast else max(1, min(settings.batch_max_cdrs, int(rate / 4)))
    try:
        total = publish_stream(cdrs if fast else paced(cdrs, at="end_ms", clock_ms=now_ms), publisher, batch,
                               flush_every=50 if fast else 1)
    except KeyboardInterrupt:
        total = publisher.sent_cdrs
    finally:
        publisher.close()
        if not fast:    # paced: the event clock stopped at the wall clock
            resume.save(int(time.time() * 1000))
    console.print(f"published {total} simulated CDRs")


@app.command()
def query(
    sql: str = typer.Argument(..., help="SQL to run on cdrflow's ClickHouse"),
    output: str = typer.Option("table", "--output", "-o", help="table, json or csv"),
) -> None:
    """Query what was stored — also while the stack runs (through the worker owning embedded chdb)."""
    from cdrflow.clickhouse.client import run_query
    from cdrflow.infra.runtime import QueryError

    try:
        columns, rows = run_query(Settings(), sql)
    except QueryError as exc:
        fail_query(exc)
    if output == "json":
        for row in rows:
            console.print_json(json.dumps(dict(zip(columns, row)), default=str))
    elif output == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("NULL" if v is None else str(v) for v in row))
        console.print(table)


@app.command()
def schema(out: Optional[Path] = typer.Option(None, help="Directory to write the JSON Schema files to")) -> None:
    """Export the JSON Schema of the wire contracts (CDR batch envelope, dead letter)."""
    from cdrflow.schemas.export import json_schemas

    for name, document in json_schemas().items():
        text = json.dumps(document, indent=2)
        if out:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}.schema.json").write_text(text + "\n")
        else:
            console.print_json(text)


@app.command()
def bench(
    cdrs: int = typer.Option(300_000, help="Simulated CDRs to push through the pipeline"),
    partitions: int = typer.Option(4),
    rate: float = typer.Option(20_000, help="CDR/s of the paced phase that measures latency"),
    throughput: bool = typer.Option(True, help="Measure stage throughput and produce→stored latency"),
    detection: bool = typer.Option(True, help="Measure incident detection latency (~3 minutes)"),
    parse: bool = typer.Option(True, help="Measure each format's parse stage (no broker needed: "
                               "--no-throughput --no-detection runs only this)"),
    runs: int = typer.Option(3, min=1, help="End-to-end runs; the figure is their median"),
) -> None:
    """Measure producer → Kafka → worker → ClickHouse: CDR/s per stage, of the worker alone draining a
    pre-filled topic (with its steps' µs per CDR when it reports them) and end to end (median of
    --runs), the traffic's share of distinct numbers, worker peak RSS, and fault onset → incident
    detection latency."""
    from cdrflow.bench.pipeline import run_bench

    run_bench(cdrs=cdrs, partitions=partitions, console=console, rate=rate, throughput=throughput,
              detection=detection, parse=parse, runs=runs)


# the command groups, each from its own module
app.add_typer(incidents_app, name="incidents")
app.add_typer(listen_app, name="listen")
app.add_typer(numbers_app, name="numbers")
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(tenants_app, name="tenants")
app.command("notify")(notify)    # `cdrflow notify`: webhook and email of incidents and alarms
app.command("check")(check)      # `cdrflow check PATH… --format F [--json]`
app.command("report")(report)   # `cdrflow report TENANT --period …` (also `cdrflow tenants report`)

"""`cdrflow dashboards …`: build the provisioned Grafana files, push them, preview them as PNGs."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

import typer

from cdrflow.cli.output import console, fail, fail_query
from cdrflow.infra.config import Settings

dashboards_app = typer.Typer(help="Grafana dashboards as code: build, push, preview.", no_args_is_help=True)


@dashboards_app.command()
def build(out: Optional[Path] = typer.Option(None,
                                             help="Directory to write to (default: the repository's dashboards/)"),
          clickhouse_host: str = typer.Option("clickhouse", help="ClickHouse host as Grafana reaches it"),
          clickhouse_port: int = typer.Option(8123, help="8123 (http) or 9000 (native)"),
          protocol: str = typer.Option("http", help="http or native"),
          username: str = typer.Option("default"),
          dashboards_path: str = typer.Option("/var/lib/grafana/dashboards/cdrflow",
                                              help="Where Grafana's file provider finds the JSON files")) -> None:
    """Write the dashboard JSON, the datasource + dashboard provisioning YAML and the alerting provisioning
    (alert rules on incidents and alarms, message template, contact point, notification policy)."""
    from cdrflow.dashboards.build import OUT, build as build_files

    for path in build_files(Settings(), out or OUT, clickhouse_host=clickhouse_host, clickhouse_port=clickhouse_port,
                            protocol=protocol, username=username, dashboards_path=dashboards_path):
        console.print(f"wrote {path}")


@dashboards_app.command()
def push(grafana_url: str = typer.Option(..., help="e.g. https://grafana.example.net"),
         token: Optional[str] = typer.Option(None, envvar="GRAFANA_TOKEN",
                                             help="Service-account token (or user:password in the URL)"),
         clickhouse_password: Optional[str] = typer.Option(
             None, envvar="CLICKHOUSE_PASSWORD", help="Set on the datasource; unset keeps Grafana's stored one"),
         ) -> None:
    """Upload the datasource and the built dashboards into the cdrflow folder (safe to repeat)."""
    from grafana_client.client import GrafanaException

    from cdrflow.dashboards.push import push as push_all

    try:
        uids = push_all(grafana_url, credential=token, clickhouse_password=clickhouse_password)
    except GrafanaException as exc:
        fail(f"Grafana refused: {exc}")
    console.print(f"pushed {len(uids)} dashboards: {', '.join(uids)}")


@dashboards_app.command()
def preview(out: Path = typer.Option(Path("dashboard-previews"), help="Directory for the PNG files"),
            demo: bool = typer.Option(
                False, help="Draw two simulated hours with an incident (temporary embedded ClickHouse)"),
            hours: float = typer.Option(6, help="Without --demo: the last HOURS of the configured ClickHouse"),
            only: Optional[str] = typer.Option(None, help="One dashboard uid, e.g. cdrflow-noc")) -> None:
    """Render every dashboard's panels to PNG from the same queries Grafana runs."""
    import time

    from cdrflow.dashboards.definitions import all_dashboards
    from cdrflow.dashboards.macros import TimeRange
    from cdrflow.dashboards.preview import on_client, render

    settings = Settings()
    chosen = [d for d in all_dashboards(settings) if only in (None, d.uid)]
    if not chosen:
        fail(f"no dashboard {only!r}")
    if demo:
        from cdrflow.clickhouse.client import connect
        from cdrflow.clickhouse.migrate import migrate
        from cdrflow.dashboards.simulated import demo_range, load_demo

        with tempfile.TemporaryDirectory() as scratch:
            demo_settings = Settings(data_dir=Path(scratch), retention_days=5000)
            client = connect(demo_settings)
            try:
                migrate(client, demo_settings)
                load_demo(client, demo_settings)
                for d in chosen:
                    console.print(f"wrote {render(on_client(client), d, demo_settings, demo_range(d.uid), out)}")
            finally:
                client.close()
        return
    from cdrflow.clickhouse.client import run_query
    from cdrflow.infra.runtime import QueryError

    def run(sql: str):
        try:
            return run_query(settings, sql, None)
        except QueryError as exc:
            fail_query(exc)

    now_ms = int(time.time() * 1000)
    window = TimeRange(now_ms - int(hours * 3_600_000), now_ms, interval_s=max(60, hours * 3600 / 300))
    for d in chosen:
        console.print(f"wrote {render(run, d, settings, window, out)}")

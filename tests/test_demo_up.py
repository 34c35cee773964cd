"""`cdrflow up` on the demo world, in event time: the history (60 simulated minutes, published at
once) holds the scripted fault, so within a minute of wall-clock time the detector has opened and
resolved its incident, and the tenant report and the release candidates have something to show."""
from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime, timezone

from cdrflow.clickhouse.sql import query
from cdrflow.infra.config import Settings
from cdrflow.infra.runtime import QueryError, worker_request

from support.stack import CDRFLOW, leftovers, stack_env

FAULT_AT_MIN = -12      # the scripted fault (2 minutes of att answer collapse), 48 minutes into the history


def test_up_on_the_demo_world_shows_an_incident_a_tenant_report_and_release_candidates(tmp_path):
    data = tmp_path / "data"
    # stack_env drops every CDRFLOW_* variable: nothing is configured, so this is the demo world;
    # a constant rate keeps the figures independent of the hour the test runs
    env = stack_env(data, CDRFLOW_SIMULATOR_DIURNAL="false")
    settings = Settings(data_dir=data, worker_web_port=int(env["CDRFLOW_WORKER_WEB_PORT"]))
    log = tmp_path / "up.log"
    started_s = time.time()
    up = subprocess.Popen([CDRFLOW, "up", "--rate", "20", "--history-minutes", "60",
                           "--demo-fault-at", str(FAULT_AT_MIN), "--screenshot", "up.png"], env=env, cwd=tmp_path,
                          stdout=open(log, "wb"), stderr=subprocess.STDOUT)

    def cli(*args: str) -> str:
        run = subprocess.run([CDRFLOW, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        return run.stdout

    def incidents() -> list[dict]:
        try:
            answer = worker_request(settings, "/query", {"sql": query("incidents_recent", settings),
                                                         "parameters": {"hours": 2}}, timeout_s=5)
        except QueryError:
            return []
        return [dict(zip(answer["columns"], row)) for row in answer["rows"]] if answer else []

    try:
        deadline = time.monotonic() + 180     # a bound for a loaded machine; about 45 s alone
        while not any(i["status"] == "resolved" for i in incidents()):
            assert up.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        found = incidents()
        # the scripted fault's incident(s) and no other: att, dated inside the fault's minutes
        fault_start = started_s + FAULT_AT_MIN * 60
        assert found and {i["interconnect"] for i in found} == {"att"}, [
            (i["interconnect"], i["direction"], i["kinds"], i["start_time"], i["end_time"], fault_start) for i in found]
        for incident in found:
            start = datetime.fromisoformat(str(incident["start_time"])[:19]).replace(tzinfo=timezone.utc).timestamp()
            assert fault_start - 120 <= start <= fault_start + 3 * 60, (incident, fault_start)
        resolved = next(i for i in found if i["status"] == "resolved")
        assert resolved["lost_calls"] > 0
        escalation = cli("incidents", "show", resolved["id"][:8])
        assert "Interconnect incident" in escalation and "att" in escalation and "Sample failed calls" in escalation

        report = tmp_path / "acme.html"
        cli("report", "acme", "--period", "24h", "--out", str(report))
        html = report.read_text()
        assert "acme" in html and html.count("data:image/png;base64") >= 2

        candidates = cli("numbers", "release-candidates")
        release, _, dirty = candidates.partition("dirty: still getting calls")
        assert all(f"+1212555018{k}" in release for k in range(3))
        assert all(n in dirty for n in Settings().simulator_spare_numbers)

        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    view = log.read_text()
    assert "demo world" in view and "scripted fault: att answer collapse" in view
    assert "interconnect incidents" in view and "NOC alarms" in view and "dirty numbers" in view
    assert "try next" in view
    assert leftovers(data) == []
    assert (tmp_path / "up.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

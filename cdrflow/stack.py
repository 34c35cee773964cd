"""`cdrflow up`: the local stack as separate processes, so each piece runs as it would deployed.

`cdrflow migrate` first, run to its end in a process of its own; then broker (Tansu, unless Kafka
is configured) → producer process (simulator or file watcher) → Faust worker process (the only
owner of an embedded chdb path) ← live view, which reads the worker's /stats and queries
ClickHouse through the worker.

`up` supervises what it started: a child that dies is started again after a backoff (1, 2, 4 …
30 s), and a broker that dies is started again with a fresh worker and producer (its memory log
is gone; the file producer resumes from what the worker confirmed stored,
producers/stored_checkpoint.py). Ctrl-C, SIGTERM and SIGHUP stop the stack in order: the producer
stops reading and waits until the worker stored what it published, the worker drains the CDR
topic to zero lag ("draining …" shows it), then the worker and the broker stop. A second signal
stops everything at once — nothing is lost by that either, the next `up` publishes the rest again.
Children die with `up` even when it is killed (PR_SET_PDEATHSIG), so none outlives it.
A worker that hangs (commits nothing for STALL_S while messages wait) is started again; one whose
writes fail says so in /stats and retries them itself, so it is left alone. Events (restarts,
failing writes) are shown in the live view and kept in logs/up.log.

On the demo world (nothing configured: infra/demo_world.toml) `up` also imports the demo number
inventory once the worker answers, and the simulator scripts a fault (DEMO_FAULT): att's answers
collapse a few minutes in and recover, so the detector opens an incident and resolves it.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from cdrflow.clickhouse.sql import query as named_query
from cdrflow.infra.config import DEMO_INVENTORY, Settings
from cdrflow.infra.kafka_admin import TopicProgress, ensure_topics, pipeline_topics
from cdrflow.infra.local_broker import LocalBroker
from cdrflow.infra.runtime import (QueryError, clear_state, die_with_parent, publish_state, read_published,
                                   read_state, worker_request)

MAX_BACKOFF_S = 30.0
# A worker that commits nothing this long while messages wait is started again. Seen with Faust on
# Tansu after a worker was killed: its successor's consumer sometimes resumed one partition past
# the group's committed offset, so that partition's commits stalled for good; a fresh worker
# resumes from the committed offset.
STALL_S = 60.0
WORKER_STOP_S = 20.0
LOW_DISK_BYTES = 16 * 1024 * 1024   # below this the live view and exit events name a full disk
SHOWN_EVENTS = 4           # the live view's latest events
EVENT_HISTORY = 50         # events repeated when up ends
# The demo world's scripted fault (interconnect, kind, minutes long); `up --demo-fault-at` says
# when it starts. Over by 4 minutes in, it resolves after the detector's 5 quiet minutes.
DEMO_FAULT = ("att", "answer_collapse", 2.0)
PANEL_EVERY_S = 10.0       # incidents, alarms and disconnected-number hits are asked this often
STATS_LATE_S = 3.0         # /stats not answered for this long: the view says its figures are older
RATE_WINDOW_S = 10.0       # the input rate is averaged over this long: the worker takes in bursts
TRY_NEXT = ("cdrflow incidents show ID  ·  cdrflow report TENANT  ·  cdrflow numbers release-candidates  ·  "
            "cdrflow dashboards preview  ·  cdrflow query SQL   (in another shell, while this runs)")


def _clock(moment) -> str:
    """HH:MM of a DateTime the worker's /query sent as ISO text."""
    return str(moment)[11:16] if moment else "–"


def backoff_s(restarts: int) -> float:
    return min(MAX_BACKOFF_S, 2.0 ** restarts)


class MigrateFailed(RuntimeError):
    """`cdrflow migrate` exited with an error: no worker is started on that schema."""


def run_migrate(env: dict[str, str], log: Path) -> str:
    """`cdrflow migrate` as a process of its own, which has exited (and let go of an embedded chdb
    path, owned by one process at a time) before a worker opens the path; workers only check the
    schema version. Returns what it printed ("applied: …"), which is also appended to `log`."""
    with open(log, "ab") as out:
        start = out.tell()
        run = subprocess.run([sys.executable, "-m", "cdrflow", "migrate"], env=env, stdout=out,
                             stderr=subprocess.STDOUT)
    with open(log, "rb") as out:
        out.seek(start)
        printed = out.read().decode(errors="replace").strip()
    if run.returncode:
        raise MigrateFailed(f"`cdrflow migrate` failed (exit {run.returncode}), so no worker was started "
                            f"(output in {log}):\n{printed[-3000:]}")
    return " ".join(printed.split())


@dataclass
class Child:
    name: str
    args: list[str]
    process: subprocess.Popen | None = None
    restarts: int = 0
    restart_at: float | None = None      # monotonic time of the next start after it died

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class StopRequests:
    """Ctrl-C, SIGTERM and SIGHUP: the first asks for an orderly stop, the second forces it."""

    count: int = 0
    previous: dict = field(default_factory=dict)

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self.previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum, frame) -> None:
        self.count += 1


class Stack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.broker: LocalBroker | None = None
        self.children: dict[str, Child] = {}
        self.history: deque[str] = deque(maxlen=EVENT_HISTORY)   # the live view shows the last SHOWN_EVENTS
        self.stops = StopRequests()
        self.logs = settings.resolved_data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, CDRFLOW_DATA_DIR=str(settings.resolved_data_dir))
        self.bootstrap = settings.kafka_bootstrap
        self._progress: TopicProgress | None = None
        self._inputs: deque[tuple[float, int]] = deque()     # (monotonic time, worker's cdrs_in)
        self._panels: dict[str, tuple[float, list]] = {}      # panel → (asked at, rows)
        self.inventory_pending = False       # the demo world's inventory, imported once the worker answers
        self.ingesting = False
        self.fault_window: tuple[float, float] | None = None   # the scripted fault, wall-clock epoch s
        self._stall: tuple[int, float] | None = None     # (committed messages, since when)
        self._write_error: str | None = None             # the worker's failing write, as /stats says
        self._stats: dict | None = None                  # the worker's /stats, read by supervise()
        self._stats_read_at = 0.0       # monotonic time of that answer
        self._interconnect_rows: list = []      # the live view's table as the worker last answered it
        self.live: Live | None = None
        self.last_frame: Group | None = None     # the live view as it last showed, before any stop

    def __enter__(self) -> "Stack":
        self.stops.install()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop(force=exc[0] is not None)
        finally:
            self.stops.restore()

    # --- starting and supervising -------------------------------------------------------------

    def start(self, ingest: Path | None, format: str, rate: float, layout: Path | None = None, *,
              history_minutes: float, demo_fault_at: float | None = None) -> None:
        """history_minutes: simulated history published at once (`cdrflow up --history-minutes`
        holds the default); demo_fault_at: minutes from now the demo world's scripted fault starts
        (negative: inside the history); None: no fault. Only the demo world has one."""
        if self.settings.embedded_clickhouse and read_state(self.settings, "worker"):
            raise SystemExit("a cdrflow worker already owns this data dir's embedded ClickHouse; stop it first")
        try:
            self._event(f"cdrflow migrate: {run_migrate(self.env, self.logs / 'migrate.log')}")
        except MigrateFailed as exc:
            raise SystemExit(str(exc)) from None
        if self.settings.embedded_broker:
            self._start_broker()
        else:
            ensure_topics(self.bootstrap, pipeline_topics(self.settings))
        self.children["worker"] = Child("worker", ["worker"])
        if self.settings.notify.channels:   # webhook / email of incidents and alarms (stream/notifier.py)
            self.children["notifier"] = Child("notifier", ["notify"])
        self.ingesting = ingest is not None
        if ingest:
            given = ["--layout", str(layout)] if layout else []
            self.children["producer"] = Child(
                "producer", ["ingest", str(ingest), "--format", format, *given, "--follow", "--source", ingest.name])
        else:
            # history first: the live view (settled minutes) has figures at once, the detector baselines
            args = ["simulate", "--rate", str(rate), "--history-minutes", str(history_minutes)]
            self.inventory_pending = self.settings.demo_world
            if self.settings.demo_world and demo_fault_at is not None:
                interconnect, kind, minutes = DEMO_FAULT
                args += ["--fault", f"{interconnect}:{kind}:{demo_fault_at}:{minutes}"]
                begin = time.time() + demo_fault_at * 60
                self.fault_window = (begin, begin + minutes * 60)
            self.children["producer"] = Child("producer", args)
        for child in self.children.values():
            self._spawn(child)

    def _start_broker(self) -> None:
        """The local broker; children find it through its state file (runtime.bootstrap_servers),
        which also tells them it keeps nothing across a stop (Settings.embedded_broker)."""
        self.broker = LocalBroker(log_path=self.logs / "tansu.log").start()
        self.bootstrap = self.broker.bootstrap
        # a new broker's offsets start again at 0: ends recorded for the previous one mean nothing
        (self.settings.resolved_data_dir / "published.json").unlink(missing_ok=True)
        publish_state(self.settings, "broker", pid=self.broker.process.pid, bootstrap=self.bootstrap)
        ensure_topics(self.bootstrap, pipeline_topics(self.settings))
        if self._progress:
            self._progress.close()
        self._progress = None

    def _spawn(self, child: Child) -> None:
        log = open(self.logs / f"{child.name}.log", "ab")
        child.process = subprocess.Popen([sys.executable, "-m", "cdrflow", *child.args], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=die_with_parent)
        log.close()
        child.restart_at = None

    def _event(self, text: str) -> None:
        """Shown in the live view (the last SHOWN_EVENTS) and kept in logs/up.log."""
        line = f"{time.strftime('%H:%M:%S')} {text}"
        self.history.append(line)
        try:
            with open(self.logs / "up.log", "a") as log:
                log.write(line + "\n")
        except OSError:  # a full disk must not stop the supervisor
            pass

    def supervise(self) -> None:
        """Starts again what died: a child after its backoff; a dead broker at once, with a fresh
        worker and producer (the ones connected to the old broker hold nothing worth keeping)."""
        now = time.monotonic()
        if self.broker and self.broker.process.poll() is not None:
            code = self.broker.process.returncode
            for child in self.children.values():
                self._kill(child)
            self._start_broker()
            for child in self.children.values():
                self._spawn(child)
            self._event(f"broker exited with {code}: restarted it, the worker and the producer")
            return
        self._watch_writes()
        self._restart_a_stalled_worker(now)
        for child in self.children.values():
            if child.running or child.process is None:
                continue
            if child.restart_at is None:
                child.restart_at = now + backoff_s(child.restarts)
                self._event(f"{child.name} exited with {child.process.returncode} (see {self.logs / child.name}.log"
                            f"{self._disk_full_note()}); restarting in {backoff_s(child.restarts):.0f} s")
            elif now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)
                self._event(f"{child.name} restarted (restart {child.restarts})")

    def _restart_a_stalled_worker(self, now: float) -> None:
        worker = self.children.get("worker")
        progress = self.topic_progress() if worker and worker.running else None
        if progress is None:
            self._stall = None
            return
        published, committed = progress[self.settings.topic_cdr_batches]
        if published <= committed or self._stall is None or self._stall[0] != committed or self._write_error:
            self._stall = (committed, now)      # moving, idle, or failing writes a restart would not mend
        elif now - self._stall[1] >= STALL_S:
            self._event(f"the worker stored nothing for {STALL_S:.0f} s while {published - committed:,} messages "
                        "waited: restarting it")
            self._kill(worker)
            worker.restart_at = now
            self._stall = None

    def _disk_full_note(self) -> str:
        """Why a child may have died without a word: on a full disk even its log could not be written."""
        free = shutil.disk_usage(self.settings.resolved_data_dir).free
        return f"; the data dir's disk is full: {free // 1024:,} KiB free" if free < LOW_DISK_BYTES else ""

    def _watch_writes(self) -> None:
        """Says when the worker's writes start failing (it retries them, acknowledging nothing) and
        when they succeed again."""
        worker = self.children.get("worker")
        try:
            stats = worker_request(self.settings, "/stats", timeout_s=2) if worker and worker.running else None
        except QueryError:
            stats = None
        error = (stats or {}).get("write_error")
        if error and not self._write_error:
            self._event(f"the worker's writes fail, retried with backoff, nothing acknowledged: {error}")
        elif stats and not error and self._write_error:
            self._event(f"the worker's writes succeed again ({stats['write_failures']:,} failures in all)")
        if stats is not None or not (worker and worker.running):
            # a running worker too busy to answer in time (draining a backlog) keeps its last figures
            self._write_error, self._stats, self._stats_read_at = error, stats, time.monotonic()

    # --- watching and stopping ----------------------------------------------------------------

    def watch(self, duration: float | None) -> None:
        deadline = time.monotonic() + duration if duration else None
        self.live = Live(refresh_per_second=2, transient=False)
        with self.live:
            while not self.stops.count and (deadline is None or time.monotonic() < deadline):
                self.supervise()
                self.last_frame = self._view()
                self.live.update(self.last_frame)
                self._sleep(1.0)
            self.stop()
        if len(self.history) > SHOWN_EVENTS:
            # the view showed only the last SHOWN_EVENTS; logs/up.log may be on a disk that was full
            self.live.console.print("what happened while up ran:")
            for line in self.history:
                self.live.console.print(Text(line, style="yellow"))

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        count = self.stops.count
        while time.monotonic() < end and self.stops.count == count:
            time.sleep(0.05)

    def stop(self, force: bool = False) -> None:
        """Producer, then the worker once it has drained, then the broker; everything at once when
        forced (a second signal). What stops is no longer started again."""
        orderly = lambda: not force and self.stops.count <= 1   # noqa: E731
        producer = self.children.pop("producer", None)
        if producer and producer.running and orderly():
            producer.process.send_signal(signal.SIGINT)
            self._until(lambda: not producer.running, "the producer waits for the worker to store what it published")
        if producer:
            self._kill(producer)
        if "worker" in self.children and orderly():
            self._until(lambda: self._lag() == 0, "the worker stores what is left on the CDR topic")
        self._terminate("worker", orderly())
        self._terminate("notifier", orderly())      # it stops between deliveries
        if self._progress:
            self._progress.close()
            self._progress = None
        if self.broker:
            self.broker.stop()
            clear_state(self.settings, "broker")
            self.broker = None

    def _until(self, done, doing: str) -> None:
        """Keeps supervising (a dead worker or broker is started again: the drain needs them) and
        showing the view until done() or a second stop signal."""
        if self.live and self.stops.count <= 1 and not done():
            # a line of its own too: where output is no terminal (systemd, a log file) the live view
            # is drawn only once, when it ends
            self.live.console.print(f"draining … {doing} (Ctrl-C again to stop now)")
        while self.stops.count <= 1 and not done():
            self.supervise()
            if self.live:
                lag = self._lag()
                self.live.update(self._view(draining=f"draining … {doing}; lag {'?' if lag is None else f'{lag:,}'} "
                                                     "messages (Ctrl-C again to stop now)"))
            self._sleep(0.5)

    def _terminate(self, name: str, orderly: bool) -> None:
        """SIGTERM and WORKER_STOP_S to finish (skipped when the stop is not orderly), then killed."""
        child = self.children.pop(name, None)
        if child and child.running and orderly:
            child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(WORKER_STOP_S)
            except subprocess.TimeoutExpired:
                pass
        if child:
            self._kill(child)

    @staticmethod
    def _kill(child: Child) -> None:
        if child.running:
            child.process.kill()
        if child.process is not None:
            child.process.wait()

    def _lag(self) -> int | None:
        """Messages on the CDR topic the worker group has not committed (None: broker unreachable)."""
        progress = self.topic_progress()
        if progress is None:
            return None
        published, stored = progress.get(self.settings.topic_cdr_batches, (0, 0))
        return published - stored

    def topic_progress(self) -> dict[str, tuple[int, int]] | None:
        """topic → (published, committed by the worker group) for the topics producers write."""
        try:
            if self._progress is None:
                self._progress = TopicProgress(self.bootstrap)
            ends = read_published(self.settings)
            return {topic: self._progress.progress(topic, ends.get(topic, {}))
                    for topic in (self.settings.topic_cdr_batches, self.settings.topic_dead_letter)}
        except Exception:  # noqa: BLE001 - a broker restarting or busy: no figure this second
            return None

    def _view(self, draining: str | None = None) -> Group:
        parts: list = [self._world()]
        if draining:
            parts.append(Text(draining, style="bold yellow"))
        parts += [Text(event, style="yellow") for event in list(self.history)[-SHOWN_EVENTS:]]
        if disk := self._disk_full_note():
            parts.append(Text(disk.removeprefix("; "), style="bold red"))
        stats = self._stats         # as supervise() read it just before
        progress = self.topic_progress()
        if progress:
            topics = Table("topic", "published", "stored", "lag",
                           title="messages per topic (published → stored by the worker)")
            published, stored = progress[self.settings.topic_cdr_batches]
            topics.add_row(self.settings.topic_cdr_batches, f"{published:,}", f"{stored:,}", f"{published - stored:,}")
            topics.add_row(self.settings.topic_dead_letter, f"{progress[self.settings.topic_dead_letter][0]:,}",
                           "kept on the topic", "—")
            parts.append(topics)
        if not stats:
            return Group(*parts, Text("waiting for the worker to join its consumer group …", style="yellow"))
        self._import_demo_inventory()
        if stats.get("write_error"):
            since = time.time() - (stats.get("write_failing_since") or time.time())
            parts.append(Text(f"the worker's writes fail for {since:.0f} s ({stats['write_failures']:,} failures), "
                              f"retried, nothing acknowledged: {stats['write_error']}", style="bold red"))
        head = Text.assemble(("CDRs/s in ", "bold"), f"{self._input_rate(stats['cdrs_in']):,.0f}   ",
                             ("stored ", "bold"), f"{stats['cdrs_stored']:,}   ",
                             ("duplicates skipped ", "bold"), f"{stats['duplicates_skipped']:,}   ",
                             ("dead letters ", "bold"), f"{stats['dead_letters']:,}")
        if (late := time.monotonic() - self._stats_read_at) >= STATS_LATE_S:
            head.append(f"   (the worker has not answered for {late:.0f} s: figures from then)", style="yellow")
        table = Table("interconnect", "dir", "seizures", "answered", "ASR", "NER", "in progress",
                      title="5 minutes ending 5 minutes ago (event time: calls count once they end; "
                            "in progress: calls up at its end)")
        failed = None
        try:
            answer = worker_request(self.settings, "/query", {
                "sql": named_query("live_interconnects", self.settings), "parameters": {"minutes": 5, "settle": 5}},
                timeout_s=5)
            self._interconnect_rows = (answer or {}).get("rows", [])
        except QueryError as exc:       # the rows shown last stay, said to be older
            failed = Text(f"query failed: {exc}; the rows below are from before", style="red")
        for row in self._interconnect_rows:
            ic, direction, seizures, answered, asr, ner, in_progress = row
            style = "red" if asr < 0.3 else None
            table.add_row(ic, str(direction), f"{seizures:,}", f"{answered:,}", f"{asr:.1%}", f"{ner:.1%}",
                          f"{in_progress:,}", style=style)
        return Group(*parts, head, *([failed] if failed else []), table, *self._panels_view(),
                     Text.assemble(("try next: ", "bold"), TRY_NEXT))

    # --- what the live view shows beyond the pipeline ------------------------------------------

    def _world(self) -> Text:
        """Which world the view shows: the shipped demo, or the user's own configuration."""
        settings = self.settings
        carriers = len(set(settings.interconnects.values()))
        if not settings.demo_world:
            return Text(f"your configuration: {len(settings.tenants)} tenant(s), {carriers} interconnects",
                        style="bold cyan")
        if self.ingesting:
            return Text("nothing configured: the demo world's carriers and tenants apply to these files "
                        "(set CDRFLOW_CONFIG for your own)", style="bold cyan")
        fault = "no scripted fault"
        if self.fault_window:
            interconnect, kind, _ = DEMO_FAULT
            begin, end = (time.strftime("%H:%M", time.gmtime(t)) for t in self.fault_window)
            fault = f"scripted fault: {interconnect} {kind.replace('_', ' ')} {begin}–{end} UTC"
        return Text(f"demo world: tenants {', '.join(settings.tenants)}; {carriers} demo carriers; demo number "
                    f"inventory; {fault} (set CDRFLOW_CONFIG for your own)", style="bold cyan")

    def _input_rate(self, cdrs_in: int) -> float:
        """CDRs/s the worker took in over the last RATE_WINDOW_S (it takes them in bursts)."""
        now = time.monotonic()
        if self._inputs and cdrs_in < self._inputs[-1][1]:
            self._inputs.clear()        # a restarted worker counts from 0
        self._inputs.append((now, cdrs_in))
        while len(self._inputs) > 2 and now - self._inputs[1][0] >= RATE_WINDOW_S:
            self._inputs.popleft()
        (t0, n0), (t1, n1) = self._inputs[0], self._inputs[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def _import_demo_inventory(self) -> None:
        """The demo world's number inventory, once the worker (owner of an embedded chdb) answers."""
        if not self.inventory_pending:
            return
        from cdrflow.numbering.inventory import import_inventory

        try:
            blocks, numbers = import_inventory(self._ask_worker, self.settings, DEMO_INVENTORY)
        except QueryError:
            return          # asked again at the next refresh
        self.inventory_pending = False
        self._event(f"imported the demo number inventory: {blocks} rows, {numbers} numbers")

    def _ask_worker(self, sql: str, parameters: dict) -> tuple[list, list]:
        """Only ever through the worker: opened here, the embedded chdb would lock the worker out."""
        answer = worker_request(self.settings, "/query", {"sql": sql, "parameters": parameters}, timeout_s=5)
        if answer is None:
            raise QueryError("no worker is running")
        return answer["columns"], answer["rows"]

    def _panel(self, name: str, parameters: dict) -> list | None:
        """Rows of a live-view query, asked at most every PANEL_EVERY_S (None: not answered yet)."""
        asked = self._panels.get(name)
        if asked and time.monotonic() - asked[0] < PANEL_EVERY_S:
            return asked[1]
        try:
            _, rows = self._ask_worker(named_query(name, self.settings), parameters)
        except QueryError:
            return asked[1] if asked else None
        self._panels[name] = (time.monotonic(), rows)
        return self._panels[name][1]

    def _panels_view(self) -> list:
        parts: list = []
        incidents = self._panel("incidents_recent", {"hours": 1})
        if incidents is not None:
            table = Table("incident", "status", "interconnect", "dir", "kinds", "since", "ended", "lost calls",
                          title="interconnect incidents: open, and those of the last hour (UTC)")
            for id_, status, ic, direction, kinds, _severity, start, end, lost in incidents[:6]:
                table.add_row(id_[:8], status, ic, direction, kinds, _clock(start), _clock(end), f"{lost:,.0f}",
                              style="bold red" if status == "open" else None)
            if not incidents:
                table.add_row("none yet", "", "", "", "", "", "", "")
            parts.append(table)
        alarms = self._panel("live_alarms", {"top": 5})
        if alarms is not None:
            table = Table("alarm", "status", "kind", "subject", "since", "updated",
                          title="NOC alarms: open, and those of the last hour (UTC)")
            for id_, status, kind, subject, since, updated in alarms:
                table.add_row(id_[:8], status, kind, subject, _clock(since), _clock(updated),
                              style="bold yellow" if status != "resolved" else None)
            if not alarms:
                table.add_row("none yet", "", "", "", "", "")
            parts.append(table)
        hits = self._panel("live_disconnected_hits", {"top": 5})
        if hits is not None:
            table = Table("number", "calls", "answered", "last call",
                          title="dirty numbers (last hour)")
            for number, calls, answered, last in hits:
                table.add_row(number, f"{calls:,}", f"{answered:,}", _clock(last))
            if not hits:
                table.add_row("none", "", "", "")
            parts.append(table)
        return parts

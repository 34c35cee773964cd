"""`cdrflow up` as a user runs it, for the fault suite: started, signalled, killed, and what it
stored counted afterwards by `cdrflow query` (a separate process: chdb allows one per path)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cdrflow.infra.local_broker import free_port
from support.files import write_asterisk_file

CDRFLOW = str(Path(sys.executable).parent / "cdrflow")


def stack_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDRFLOW_")}
    env.update(CDRFLOW_DATA_DIR=str(data_dir), CDRFLOW_WORKER_WEB_PORT=str(free_port()),
               CDRFLOW_RETENTION_DAYS="5000", COLUMNS="120", **extra)
    return env


class Up:
    """One `cdrflow up --ingest DIR` run."""

    started_here: list["Up"] = []

    def __init__(self, data_dir: Path, ingest: Path, log: Path, **env: str):
        self.data_dir, self.log = data_dir, log
        self.env = stack_env(data_dir, **env)
        self.started = time.monotonic()
        self.process = subprocess.Popen([CDRFLOW, "up", "--ingest", str(ingest)], env=self.env,
                                        stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        Up.started_here.append(self)

    def state(self, name: str) -> dict | None:
        try:
            return json.loads((self.data_dir / f"{name}.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def child_pid(self, name: str) -> int | None:
        """pid of up's child running `cdrflow <command>` (worker, ingest) or of the broker."""
        import psutil

        for child in psutil.Process(self.process.pid).children():
            try:
                cmd = " ".join(child.cmdline())
            except psutil.NoSuchProcess:
                continue
            if (name == "broker" and "tansu" in cmd) or f" -m cdrflow {name}" in cmd:
                return child.pid
        return None

    def settings(self):
        from cdrflow.infra.config import Settings

        return Settings(data_dir=self.data_dir, worker_web_port=int(self.env["CDRFLOW_WORKER_WEB_PORT"]))

    def worker_stats(self) -> dict | None:
        """The running worker's /stats (None until it answers)."""
        from cdrflow.infra.runtime import QueryError, worker_request

        try:
            return worker_request(self.settings(), "/stats", timeout_s=2)
        except QueryError:
            return None

    def query(self, sql: str) -> dict:
        """SQL run by the worker on the embedded chdb it owns (its /query page)."""
        from cdrflow.infra.runtime import worker_request

        return worker_request(self.settings(), "/query", {"sql": sql}, timeout_s=30)

    def stored(self) -> int:
        """CDRs the running worker reports stored since it started (0 until it answers)."""
        return (self.worker_stats() or {}).get("cdrs_stored", 0)

    def wait_until(self, predicate, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"up exited: {self.log.read_text()[-3000:]}"
            if predicate():
                return
            time.sleep(0.5)
        raise TimeoutError(f"{what}: {self.log.read_text()[-3000:]}{self.logs_tail()}")

    def logs_tail(self) -> str:
        """The last lines of up's own and its children's logs (the live view prints only when up ends)."""
        tails = []
        for name in ("up", "worker", "producer"):
            try:
                lines = (self.data_dir / "logs" / f"{name}.log").read_text(errors="replace").splitlines()
            except OSError:
                continue
            tails.append(f"\n--- logs/{name}.log ---\n" + "\n".join(lines[-25:]))
        for name in ("worker", "broker"):       # what tells the test how to reach them
            state = self.data_dir / f"{name}.json"
            tails.append(f"\n--- {name}.json ---\n{state.read_text() if state.exists() else '(none)'}")
        return "".join(tails)

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout_s: float) -> int:
        return self.process.wait(timeout_s)

    def stop(self, timeout_s: float = 300) -> float:
        """Ctrl-C and the wait for the orderly stop; seconds it took."""
        t0 = time.monotonic()
        self.signal(signal.SIGINT)
        assert self.wait(timeout_s) == 0, self.log.read_text()[-3000:]
        return time.monotonic() - t0


def _counts(data_dir: Path, table: str) -> tuple[int, int]:
    """(rows, distinct cdr_ids) of `table`, read by `cdrflow query` with nothing running."""
    run = subprocess.run([CDRFLOW, "query", f"SELECT count(), uniqExact(cdr_id) FROM {table}", "-o", "csv"],
                         env=stack_env(data_dir), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    rows, unique = run.stdout.strip().splitlines()[-1].split(",")
    return int(rows), int(unique)


def stored_counts(data_dir: Path) -> tuple[int, int]:
    """(rows, distinct cdr_ids) in the cdr table."""
    return _counts(data_dir, "cdrflow.cdr FINAL")


def raw_counts(data_dir: Path) -> tuple[int, int]:
    """(rows before ReplacingMergeTree collapses duplicates, distinct cdr_ids)."""
    return _counts(data_dir, "cdrflow.cdr")


def switch_dir(tmp_path_factory, lines: int) -> Path:
    """A switch's CDR directory holding one Master.csv of `lines` lines."""
    directory = tmp_path_factory.mktemp("switch") / "pbx"
    directory.mkdir()
    write_asterisk_file(directory / "Master.csv", lines)
    return directory


def checkpoint(data_dir: Path, source: str) -> dict:
    """The first file entry of a source's checkpoint ({} before there is one)."""
    try:
        return next(iter(json.loads((data_dir / "checkpoints" / f"{source}.json").read_text()).values()))
    except (FileNotFoundError, StopIteration, ValueError):
        return {}


def stored_to_end(data_dir: Path, cdr_dir: Path) -> bool:
    """The producer's stored position (what the worker confirmed) reached the end of the file."""
    return checkpoint(data_dir, cdr_dir.name).get("stored") == (cdr_dir / "Master.csv").stat().st_size


def leftovers(data_dir: Path) -> list[str]:
    """Processes still running with this data dir in their environment: what up started (broker,
    worker, producer) inherits it."""
    import psutil

    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.environ().get("CDRFLOW_DATA_DIR") == str(data_dir) and process.pid != os.getpid():
                found.append(f"{process.pid} {' '.join(process.info['cmdline'] or [])}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def words(path: Path) -> str:
    """A log's text with the console's line wrapping undone ("" before the log exists)."""
    return " ".join(path.read_text(errors="replace").split()) if path.exists() else ""

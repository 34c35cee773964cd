"""Where the running pieces are: files in data_dir that tell one cdrflow process about another.

An embedded chdb path belongs to the one worker process that opened it, so the worker records
its web endpoint here and other commands (query, the live view) ask it instead of opening chdb.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import psutil

from cdrflow.infra.config import Settings


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """A subprocess preexec_fn: the kernel sends the child SIGKILL when its parent dies, however the
    parent dies (kill -9 included), so no broker, worker or producer outlives what started it."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _state_file(settings: Settings, name: str) -> Path:
    return settings.resolved_data_dir / f"{name}.json"


def start_ticks(pid: int) -> int:
    """When a process started, in clock ticks since boot (/proc/PID/stat field 22): what tells a
    pid's process from a later one that reuses the pid. Not psutil's create_time(): that adds the
    boot time read afresh, which moves when NTP adjusts the clock, so two processes (or one, a
    minute apart) disagree about the same process and a live worker's state file read as stale
    (a CI run's restarted worker never answered /stats for that reason)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[19])       # fields after the command name start at 3


def publish_state(settings: Settings, name: str, pid: int | None = None, **values: Any) -> None:
    """Records a running process (this one unless pid is given) and how to reach it."""
    pid = pid or os.getpid()
    path = _state_file(settings, name)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"pid": pid, "start_ticks": start_ticks(pid), **values}))
    os.replace(tmp, path)


def read_state(settings: Settings, name: str) -> dict | None:
    """The state of a running process; None when its process is gone. A file left by a killed
    process never counts: its pid must be alive (a zombie nobody reaped is not: it holds no locks
    or ports) and have started when the file says (a reused pid belongs to another process)."""
    path = _state_file(settings, name)
    try:
        state = json.loads(path.read_text())
        if start_ticks(state["pid"]) != state.get("start_ticks"):
            return None
        if psutil.Process(state["pid"]).status() == psutil.STATUS_ZOMBIE:
            return None
        return state
    except (OSError, psutil.NoSuchProcess, psutil.AccessDenied, ValueError, KeyError, TypeError, IndexError):
        return None


def clear_state(settings: Settings, name: str) -> None:
    _state_file(settings, name).unlink(missing_ok=True)


def record_published(settings: Settings, ends: dict[str, dict[int, int]]) -> None:
    """Merges a producer's end offsets (topic → partition → offset after its last message) into
    published.json: the local broker's true ends, which its high watermark does not give."""
    path = _state_file(settings, "published")
    merged = read_published(settings)
    for topic, partitions in ends.items():
        known = merged.setdefault(topic, {})
        for partition, end in partitions.items():
            known[partition] = max(known.get(partition, 0), end)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(merged))
    os.replace(tmp, path)


def read_published(settings: Settings) -> dict[str, dict[int, int]]:
    try:
        data = json.loads(_state_file(settings, "published").read_text())
        return {topic: {int(p): end for p, end in parts.items()} for topic, parts in data.items()}
    except (FileNotFoundError, ValueError, AttributeError):
        return {}


def bootstrap_servers(settings: Settings) -> str:
    """Configured Kafka, else the local broker that `cdrflow up` / `cdrflow broker` started."""
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    state = read_state(settings, "broker")
    if not state:
        raise RuntimeError("no Kafka: set CDRFLOW_KAFKA_BOOTSTRAP or start the local broker "
                           "(cdrflow up / cdrflow broker)")
    return state["bootstrap"]


class QueryError(RuntimeError):
    pass


def worker_request(settings: Settings, path: str, body: dict | None = None, timeout_s: float = 30.0) -> Any:
    """GET/POST a running worker's endpoint; None when no worker is running."""
    state = read_state(settings, "worker")
    if not state:
        return None
    request = urllib.request.Request(f"http://127.0.0.1:{state['port']}{path}",
                                     data=orjson.dumps(body) if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            message = orjson.loads(body).get("error", str(exc))
        except orjson.JSONDecodeError:
            message = f"{exc}: {body[:200]!r}"
        raise QueryError(message) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise QueryError(f"the worker (pid {state['pid']}) did not answer {path}: {exc}") from None

"""Where the running pieces are: files in data_dir that tell one cdrflow process about another.

An embedded chdb path belongs to the one worker process that opened it, so the worker records
its web endpoint here and other commands (query, the live view) ask it instead of opening chdb.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from cdrflow.infra.config import Settings


def _state_file(settings: Settings, name: str) -> Path:
    return settings.resolved_data_dir / f"{name}.json"


def publish_state(settings: Settings, name: str, **values: Any) -> None:
    path = _state_file(settings, name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **values}))
    os.replace(tmp, path)


def read_state(settings: Settings, name: str) -> dict | None:
    path = _state_file(settings, name)
    try:
        state = json.loads(path.read_text())
        os.kill(state["pid"], 0)  # still running?
        return state
    except (FileNotFoundError, ProcessLookupError, ValueError, KeyError):
        return None


def clear_state(settings: Settings, name: str) -> None:
    _state_file(settings, name).unlink(missing_ok=True)


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

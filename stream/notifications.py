"""Incident and alarm events → the notification people get: pure, so tests call it directly.

Incident events (`interconnect.incidents`) carry {"event": "open"|"update"|"resolve", "incident": {…}};
alarm events (`noc.alarms`) carry the lifecycle fields at the top: id, version, status, kind,
subject, since_ms, updated_ms, detail. Both become one Notification whose key, id:version, is
the idempotency key a receiver deduplicates on.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

INCIDENT_STATUS = {"open": "open", "update": "update", "resolve": "resolved"}


class NotAnEvent(ValueError):
    """The message is no incident or alarm event: it goes to the dead letters with this reason."""


@dataclass(frozen=True)
class Notification:
    source: str          # "incident" or "alarm"
    id: str
    version: int
    status: str          # open / update / resolved
    title: str
    payload: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.id}:{self.version}"

    def body(self) -> dict[str, Any]:
        """The webhook's JSON (the email carries the same text)."""
        return {"key": self.key, "source": self.source, "id": self.id, "version": self.version,
                "status": self.status, "title": self.title, self.source: self.payload}

    def text(self) -> str:
        p = self.payload
        lines = [self.title, ""]
        if self.source == "incident":
            since = _utc(p["start_ms"])
            until = _utc(p["end_ms"]) if p.get("end_ms") else "ongoing"
            lines += [f"Interconnect: {p['interconnect']} ({p['direction']})", f"Window: {since} → {until}",
                      f"Kinds: {', '.join(p.get('kinds') or [])}", f"Severity: {p.get('severity')}",
                      f"Estimated lost calls: {float(p.get('lost_calls') or 0):.0f}",
                      "", f"Report: cdrflow incidents show {self.id[:8]}",
                      f"Acknowledge: cdrflow incidents ack {self.id[:8]} --by NAME"]
        else:
            lines += [f"Alarm: {p['kind']} on {p['subject']}", f"Since: {_utc(p['since_ms'])}",
                      f"Detail: {orjson.dumps(p.get('detail')).decode()}"]
        lines += ["", f"Event: {self.source} {self.id} version {self.version} ({self.status})"]
        return "\n".join(lines) + "\n"


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def notification_of(raw: bytes) -> Notification:
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise NotAnEvent(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise NotAnEvent("not a JSON object")
    try:
        if "incident" in event:
            incident, status = event["incident"], INCIDENT_STATUS[event["event"]]
            title = (f"[{status.upper()}] {incident['severity']} incident on {incident['interconnect']}/"
                     f"{incident['direction']}: {', '.join(incident['kinds'])}")
            return Notification("incident", str(incident["id"]), int(incident["version"]), status, title, incident)
        status = event["status"]
        if status not in ("open", "update", "resolved"):
            raise NotAnEvent(f"unknown alarm status {status!r}")
        title = f"[{status.upper()}] alarm {event['kind']} on {event['subject']}"
        return Notification("alarm", str(event["id"]), int(event["version"]), status, title, event)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, NotAnEvent):
            raise
        raise NotAnEvent(f"not an incident or alarm event: missing or bad {exc}") from None

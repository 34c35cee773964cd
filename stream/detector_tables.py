"""The detector's state: plain dicts in memory (what incidents/detector.py works on), with their
changelogged copy in two Faust tables, so a restarted worker resumes where it left off.

A key's state ("interconnect|direction") is up to 90 minutes of partials, the offset last applied
to each, and its open incident. As one table value (~80 KB of JSON), every absorbed message and
every judgement would rewrite all of it to the changelog: about half of the event loop at 20,000
CDR/s. So each minute is its own entry ("key|minute" → partial and offset, ~1 KB), written when a
message changes it, and the rest ("key" → partition, judged, seen_ms, incident) when a judgement
changes it. The states are read back from the tables after every rebalance, once Faust has
recovered them.
"""
from __future__ import annotations

from typing import Any

import faust

from cdrflow.incidents.detector import absorb

KEY_FIELDS = ("partition", "judged", "seen_ms", "incident")


class DetectorTables:
    def __init__(self, app: faust.App, partitions: int) -> None:
        # Faust's default serializers (JSON keys and values), the ones its changelog recovery reads
        # with: a raw-key Schema is written raw but read back as JSON, and recovery never ends
        self.app = app
        self.keys = app.Table("detector-keys", partitions=partitions)
        self.minutes = app.Table("detector-minutes", partitions=partitions)
        self._states: dict[str, dict[str, Any]] = {}
        self._saved: dict[str, tuple] = {}      # key → its key fields as last written (incident aside)
        self._generation: int | None = None

    def states(self) -> dict[str, dict[str, Any]]:
        """key → state; read back from the tables once per consumer generation (rebalance)."""
        if self._generation != self.app.consumer_generation_id:
            self._generation = self.app.consumer_generation_id
            self._states, self._saved = {}, {}
            for key_minute, entry in self.minutes.items():
                key, minute = key_minute.rsplit("|", 1)
                state = self._states.setdefault(key, {"minutes": {}, "offsets": {}})
                state["minutes"][minute], state["offsets"][minute] = entry["partial"], entry["offset"]
            for key, fields in self.keys.items():
                self._states.setdefault(key, {"minutes": {}, "offsets": {}}).update(fields)
                self._saved[key] = _stamp(fields)
        return self._states

    def absorb(self, key: str, message: dict[str, Any], offset: int, partition: int) -> None:
        """Adds a partials message (read at offset of partition) and writes the minutes it changed."""
        state = self.states().setdefault(key, {"minutes": {}, "offsets": {}})
        for minute in absorb(state, message, offset):
            self.minutes[f"{key}|{minute}"] = {"partial": state["minutes"][minute], "offset": state["offsets"][minute]}
        if state.get("partition") != partition:
            state["partition"] = partition
            self.save(key, state, [], state["minutes"].keys())

    def save(self, key: str, state: dict[str, Any], events: list, minutes_before) -> None:
        """After a judgement: deletes the minutes it dropped, and writes the key fields if they
        changed (the incident changes only with an event)."""
        for minute in set(minutes_before) - state["minutes"].keys():
            del self.minutes[f"{key}|{minute}"]
        if events or self._saved.get(key) != _stamp(state):
            # unset fields are left out: evaluate() reads a missing "judged" as never judged
            self.keys[key] = {field: state[field] for field in KEY_FIELDS if state.get(field) is not None}
            self._saved[key] = _stamp(state)


def _stamp(fields: dict[str, Any]) -> tuple:
    return fields.get("partition"), fields.get("judged"), fields.get("seen_ms")


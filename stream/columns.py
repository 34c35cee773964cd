"""A take's CDRs as columns: one list per CDR field, in the CDR model's order.

The worker's steps work on whole columns — enrichment looks each distinct number and trunk up
once, partials are a group-by, the insert is one Arrow table — instead of on a dict per CDR.
Rows are built only for the few CDRs that leave as rows (dead letters, disconnected-number hits).
"""
from __future__ import annotations

from operator import attrgetter
from typing import Any, Iterable, Sequence

import msgspec
import pyarrow as pa

from cdrflow.schemas.cdr import CDR, CDRRow

FIELDS: tuple[str, ...] = tuple(CDR.model_fields)
_INTS = {"start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "q850_cause", "sip_code", "pdd_ms",
         "source_offset"}
# Arrow types of the insert; ClickHouse converts them to the table's (UUID, Enum8, UInt16 …)
ARROW_SCHEMA = pa.schema([(name, pa.int64() if name in _INTS else pa.float64() if name == "cost" else pa.string())
                          for name in FIELDS])
_GETTERS = [(name, attrgetter(name)) for name in FIELDS]


class Columns:
    """FIELDS → a list of values each, all of one length."""

    __slots__ = ("data", "length")

    def __init__(self, data: dict[str, list], length: int):
        self.data, self.length = data, length

    @classmethod
    def from_structs(cls, rows: Sequence[Any]) -> "Columns":
        """CDRRow structs (checked) → columns."""
        columns = cls.empty()
        columns.extend(rows)
        return columns

    @classmethod
    def empty(cls) -> "Columns":
        return cls({name: [] for name in FIELDS}, 0)

    def extend(self, rows: Sequence[Any]) -> None:
        """Appends CDRRow structs (checked), a field at a time (attrgetter over the rows, in C).
        Called per envelope (500 rows) while they are still in the CPU cache: ~1 µs a CDR less than
        one pass per field over a whole take's rows."""
        for name, get in _GETTERS:
            self.data[name].extend(map(get, rows))
        self.length += len(rows)

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, Any]]) -> "Columns":
        """Checked CDR dicts (check_wire's) → columns; a field left out takes the model's default."""
        return cls.from_structs([msgspec.convert(row, CDRRow) for row in rows])

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, name: str) -> list:
        return self.data[name]

    def __setitem__(self, name: str, values: list) -> None:
        self.data[name] = values

    def select(self, indices: Sequence[int]) -> "Columns":
        """The rows at indices, in that order."""
        return Columns({name: [col[i] for i in indices] for name, col in self.data.items()}, len(indices))

    def rows(self, indices: Iterable[int] | None = None) -> list[dict[str, Any]]:
        indices = range(self.length) if indices is None else indices
        return [{name: col[i] for name, col in self.data.items()} for i in indices]

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_arrays([pa.array(self.data[f.name], f.type) for f in ARROW_SCHEMA],
                                    schema=ARROW_SCHEMA)

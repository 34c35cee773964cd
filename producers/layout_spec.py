"""A declared layout: the TOML file that tells format `layout` how to read a delimited CDR export.

Modelled on CGRateS's field templates (a `fields` list of tag / path / type / value in its CDR
importers): a user reads a new export by declaring, not by writing a parser. Here a template is
keyed by the canonical CDR field it fills (schemas/cdr.py) and says where the value comes from:

    [fields]
    calling_number = "src"                                    # a column by header name …
    called_number = 4                                         # … or by 1-based position
    start_ms = { column = "calldate", format = "%d/%m/%Y %H:%M:%S" }
    duration_ms = { column = "duration", unit = "s" }
    q850_cause = { column = "disposition", map = "disposition_q850" }
    egress_trunk = { column = "dstchannel", pattern = '^[^/]+/(.+?)(?:-[0-9a-f]+)?$' }
    direction = { value = "out" }                             # a constant

plus the file's shape (separator, quote, header, NULL tokens), the zone of its times, value maps
and the answered rule. The whole syntax, with a commented example, is in docs/formats.md; shipped
examples are in producers/layouts/. pydantic validates it and every problem names its key
(load_layout raises LayoutError listing them all).
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator,
                      model_validator)

from cdrflow.schemas.cdr import Direction, Initiator, RecordKind

from .layout_times import ISO_PATTERN, TimeFormat

LAYOUTS_DIR = Path(__file__).with_name("layouts")

TIME_FIELDS = ("start_ms", "answer_ms", "end_ms")
DURATION_FIELDS = ("duration_ms", "billable_ms", "pdd_ms")
NUMBER_FIELDS = ("q850_cause", "sip_code")
CHOICE_FIELDS: dict[str, tuple[str, ...]] = {
    "record_kind": get_args(RecordKind), "direction": get_args(Direction),
    "disconnect_initiator": get_args(Initiator)}
TEXT_FIELDS = ("native_id", "call_id", "correlation_id", "calling_number", "called_number", "ingress_trunk",
               "egress_trunk", "tenant", "extension")
FILLABLE = TIME_FIELDS + DURATION_FIELDS + NUMBER_FIELDS + tuple(CHOICE_FIELDS) + TEXT_FIELDS
# CDR fields a layout does not fill, and why
NOT_FILLABLE = {name: "set by cdrflow from the source and position" for name in
                ("cdr_id", "source", "source_format", "source_file", "source_offset")} | {
    name: "filled by enrichment" for name in
    ("calling_e164", "called_e164", "interconnect", "cause_class", "call_class", "call_direction", "destination",
     "cost")}

Position = Annotated[StrictInt, Field(ge=1)]
Column = Union[Annotated[StrictStr, Field(min_length=1)], Position]


class LayoutError(ValueError):
    """A layout file that cannot be used; str() names the file and each problem's key."""


class FieldRule(BaseModel):
    """Where one CDR field's value comes from: a column (or, for text, columns joined by "/"), or
    a constant `value`; how it is read (format, unit, map, pattern); tokens that mean empty."""

    model_config = ConfigDict(extra="forbid")

    column: Column | list[Column] | None = None
    value: StrictStr | StrictInt | None = None
    format: StrictStr | None = None
    unit: Literal["s", "ms", "min", "hms"] | None = None
    map: StrictStr | None = None
    pattern: StrictStr | None = None
    null: list[StrictStr] = Field(default_factory=list)

    def columns(self) -> list[str | int]:
        if self.column is None:
            return []
        return list(self.column) if isinstance(self.column, list) else [self.column]


class AnsweredRule(BaseModel):
    """The switch's verdict on answered: a column's values, an answer time present, or billable > 0."""

    model_config = ConfigDict(extra="forbid")

    column: Column | None = None
    values: list[StrictStr] | None = None
    when: Literal["answer_time", "billable"] | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> "AnsweredRule":
        if self.when is not None:
            if self.column is not None or self.values is not None:
                raise ValueError("give either column and values, or when, not both")
        elif self.column is None:
            raise ValueError("the rule references no column: give column and the values that mean answered, "
                             "or when = \"answer_time\" / \"billable\"")
        elif not self.values:
            raise ValueError(f"column {self.column!r} needs values: the ones that mean answered")
        return self


class Layout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    separator: str = Field(",", min_length=1, max_length=1)
    quote: str = Field('"', min_length=1, max_length=1)
    header: bool = Field(True, description="the first line names the columns")
    columns: list[Annotated[StrictStr, Field(min_length=1)]] | None = Field(
        None, description="a headerless file's column names, in order, for fields to name them")
    min_columns: Position | None = Field(None, description="headerless: the fewest columns a row may have")
    null: list[StrictStr] = Field(default_factory=lambda: ["", "NULL"], description="values that mean empty")
    lenient_quotes: bool = Field(False, description="read MySQL-style undoubled inner quotes (counted as repairs)")
    timezone: StrictStr | None = Field(None, description="zone of the times; unset: Settings.source_timezone")
    fields: dict[str, FieldRule]
    answered: AnsweredRule
    maps: dict[str, dict[str, StrictStr | StrictInt]] = Field(default_factory=dict)

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, fields: Any) -> Any:
        # `calling_number = "src"` / `= 3` / `= ["a", "b"]` stand for `{ column = … }`
        if isinstance(fields, dict):
            return {name: rule if isinstance(rule, dict) else {"column": rule} for name, rule in fields.items()}
        return fields

    @model_validator(mode="after")
    def _consistent(self) -> "Layout":
        problems = [*self._shape_problems(), *self._answered_problems()]
        for name, rule in self.fields.items():
            problems += [f"fields.{name}{problem}" for problem in self._rule_problems(name, rule)]
        if "start_ms" not in self.fields:
            problems.append("fields.start_ms: missing: a layout needs the call's start time")
        if "end_ms" not in self.fields and "duration_ms" not in self.fields:
            problems.append("fields: no end_ms and no duration_ms: the call's end is one, or start + the other")
        if "answer_ms" not in self.fields and "billable_ms" not in self.fields:
            problems.append("fields: no answer_ms and no billable_ms: an answered call's answer time is one, or "
                            "end - the other")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _shape_problems(self) -> list[str]:
        problems = []
        if self.separator == self.quote or any(ch in "\r\n" for ch in self.separator + self.quote):
            problems.append("separator, quote: must differ and not be line endings")
        if self.header and (self.columns is not None or self.min_columns is not None):
            problems.append("columns, min_columns: only for a file without a header (header = false); a header "
                            "names its own columns")
        if self.columns is not None and self.min_columns is not None and self.min_columns > len(self.columns):
            problems.append(f"min_columns: {self.min_columns} is more than the {len(self.columns)} columns listed")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append(f"timezone: unknown time zone {self.timezone!r} (an IANA name, e.g. Europe/Berlin)")
        for name, values in self.maps.items():
            if not values:
                problems.append(f"maps.{name}: empty")
        return problems

    def _column_problem(self, column: str | int) -> str | None:
        """Why a field's or the answered rule's column cannot be found, or None."""
        if isinstance(column, int):
            if self.columns is not None and column > len(self.columns):
                return f"column {column} is past the {len(self.columns)} columns listed"
            return None
        if not self.header and self.columns is None:
            return (f"column {column!r} is a name, but the file has no header and the layout lists no columns: "
                    "give its 1-based position, or list the columns")
        if self.columns is not None and column not in self.columns:
            return f"column {column!r} is not among the columns listed"
        return None   # with a header, each file's header is checked

    def _answered_problems(self) -> list[str]:
        rule = self.answered
        if rule.column is not None:
            problem = self._column_problem(rule.column)
            return [f"answered.column: {problem}"] if problem else []
        needs = {"answer_time": "answer_ms", "billable": "billable_ms"}[rule.when]
        if needs not in self.fields:
            return [f"answered.when: {rule.when!r} references no column: fields has no {needs}"]
        return []

    def _rule_problems(self, name: str, rule: FieldRule) -> list[str]:
        """Problems of one field's rule, each as ": …" or ".key: …" after `fields.<name>`."""
        if name not in FILLABLE:
            why = NOT_FILLABLE.get(name)
            return [f": {name!r} is {why}, not read by a layout" if why else
                    f": unknown CDR field {name!r}; a layout fills {', '.join(FILLABLE)}"]
        problems = []
        if (rule.column is None) == (rule.value is None):
            problems.append(": give column (where the value is read) or value (a constant), one of them")
        if isinstance(rule.column, list) and (name not in TEXT_FIELDS or not rule.column):
            problems.append(".column: several columns (joined by \"/\") only for a text field")
        for column in rule.columns():
            problem = self._column_problem(column)
            if problem:
                problems.append(f".column: {problem}")
        if rule.format is not None and name not in TIME_FIELDS:
            problems.append(f".format: only for times ({', '.join(TIME_FIELDS)})")
        if rule.unit is not None and name not in DURATION_FIELDS:
            problems.append(f".unit: only for durations ({', '.join(DURATION_FIELDS)})")
        if rule.pattern is not None:
            if name not in TEXT_FIELDS:
                problems.append(".pattern: only for text fields")
            else:
                try:
                    if re.compile(rule.pattern).groups > 1:
                        problems.append(".pattern: at most one group (the value kept)")
                except re.error as e:
                    problems.append(f".pattern: not a regular expression ({e})")
        if name in TIME_FIELDS:
            if rule.value is not None:
                problems.append(".value: a time comes from a column")
            try:
                TimeFormat(rule.format or ISO_PATTERN, name)
            except ValueError as e:
                problems.append(f".format: {e}")
        if rule.map is not None:
            if name in TIME_FIELDS or name in DURATION_FIELDS:
                problems.append(".map: not for times and durations")
            elif rule.map not in self.maps:
                problems.append(f".map: no [maps.{rule.map}] in the layout")
            else:
                problems += [f".map: maps.{rule.map}.{key}: {problem}" for key, value in self.maps[rule.map].items()
                             if (problem := value_problem(name, value))]
        if rule.value is not None and name not in TIME_FIELDS:
            problem = value_problem(name, rule.value)
            if problem:
                problems.append(f".value: {problem}")
        return problems


def value_problem(name: str, value: str | int) -> str | None:
    """Why a constant or a map's value cannot fill CDR field `name`, or None."""
    if name in NUMBER_FIELDS or name in DURATION_FIELDS:
        if not isinstance(value, int):
            return f"{value!r} is not a whole number"
        low, high = {"q850_cause": (0, 999), "sip_code": (100, 699)}.get(name, (0, 2**53))
        return None if low <= value <= high else f"{value} is outside {low}-{high}"
    if name in CHOICE_FIELDS:
        return None if value in CHOICE_FIELDS[name] else f"{value!r} is not one of {', '.join(CHOICE_FIELDS[name])}"
    return None if isinstance(value, str) else f"{value!r} is not text (quote it)"


def shipped_layouts() -> list[str]:
    """The example layouts shipped in producers/layouts/, by name."""
    return sorted(path.stem for path in LAYOUTS_DIR.glob("*.toml"))


def layout_path(name_or_path: str | Path) -> Path:
    """A layout file, or the name of a shipped example (producers/layouts/<name>.toml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = LAYOUTS_DIR / f"{path.name}.toml"
    if path.parent == Path(".") and path.suffix == "" and shipped.is_file():
        return shipped
    raise LayoutError(f"layout {str(name_or_path)!r}: no such file, nor a shipped layout "
                      f"({', '.join(shipped_layouts())})")


def load_layout(name_or_path: str | Path) -> Layout:
    """The validated layout of a TOML file (or shipped name); LayoutError lists every problem by key."""
    path = layout_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise LayoutError(f"layout {path}: not valid TOML ({e})") from None
    return parse_layout_data(data, str(path))


def parse_layout_data(data: dict[str, Any], origin: str = "layout") -> Layout:
    try:
        return Layout.model_validate(data)
    except ValidationError as e:
        raise LayoutError(f"layout {origin} is not usable:\n" + "\n".join(_problems(e))) from None


# what a key whose type is a union takes, for the one line that says a value fits none of it
_UNION_EXPECTS = {"column": "a column: its header name (text), its 1-based position, or (text fields) a list of them",
                  "value": "text or a whole number"}


def _problems(error: ValidationError) -> list[str]:
    """pydantic's errors as "  key: problem" lines, every key once for each problem."""
    lines = []
    for item in error.errors():
        loc = item["loc"]
        names = [str(part) for part in loc if not _is_union_branch(part)]
        key = ".".join(names)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "missing"
        elif item["type"] == "extra_forbidden":
            message = "unknown key"
        elif len(names) < len(loc) and names[-1] in _UNION_EXPECTS:
            message = f"{item['input']!r} is not {_UNION_EXPECTS[names[-1]]}"
        lines += [f"  {key}: {line}" if key else f"  {line}" for line in message.split("\n")]
    return list(dict.fromkeys(lines))


def _is_union_branch(part: Any) -> bool:
    # pydantic names the union member it tried ("str", "constrained-int", "list[…]") in loc
    return isinstance(part, str) and (part in ("str", "int", "constrained-str", "constrained-int")
                                      or part.startswith(("list[", "function-")))

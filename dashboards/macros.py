"""Expands a panel's SQL the way Grafana and the ClickHouse datasource plugin (v4) do, so tests and
`cdrflow dashboards preview` run exactly what Grafana would send to ClickHouse.

Order as in the plugin: the browser resolves $__conditionalAll, then template variables (a list
value becomes 'a','b'; a single value goes in as it is); the backend then expands the time macros.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

ALL = "$__all"


@dataclass(frozen=True)
class TimeRange:
    from_ms: int
    to_ms: int
    interval_s: float = 60      # Grafana's $__interval for the panel (width / max data points)


def _args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at open_paren, split on top-level commas; and the index after ')'."""
    depth, start, args = 0, open_paren + 1, []
    for i in range(open_paren, len(sql)):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i])
                return args, i + 1
        elif sql[i] == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
    raise ValueError(f"unbalanced macro call in: {sql[open_paren:open_paren + 80]}")


_VARIABLE_NAME = re.compile(r"(?<=\$\{)\w+(?=\})|(?<=\$)\w+")


def conditional_all(sql: str, variables: dict[str, str | list[str]]) -> str:
    """$__conditionalAll(cond, $v) → cond, or 1=1 when $v is All (or empty)."""
    macro = "$__conditionalAll("
    while (at := sql.rfind(macro)) != -1:
        args, end = _args(sql, at + len(macro) - 1)
        if len(args) != 2:
            raise ValueError("$__conditionalAll takes 2 arguments")
        name = _VARIABLE_NAME.search(args[1].strip())
        value = variables.get(name.group(0)) if name else None
        text = ",".join(value) if isinstance(value, list) else value
        phrase = "1=1" if name and text in ("", ALL) else args[0]
        sql = sql[:at] + phrase + sql[end:]
    return sql


_TEMPLATE_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def template_variables(sql: str, variables: dict[str, str | list[str]], all_values: dict[str, list[str]]) -> str:
    """$v and ${v}: a list becomes 'a','b' (the plugin's format), All becomes every option of v."""
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            return match.group(0)        # a macro or an unknown name: Grafana leaves it as it is
        selected = variables[name]
        if selected == ALL or selected == [ALL]:
            selected = all_values[name]
        return "'" + "','".join(selected) + "'" if isinstance(selected, list) else selected
    return _TEMPLATE_VARIABLE.sub(value, sql)


def _date(epoch_s: int) -> str:
    return f"toDate('{datetime.fromtimestamp(epoch_s, timezone.utc):%Y-%m-%d}')"


def time_macros(sql: str, time: TimeRange) -> str:
    """The backend's macros (pkg/macros/macros.go of grafana/clickhouse-datasource)."""
    f, t = time.from_ms // 1000, time.to_ms // 1000
    f_ms, t_ms = f"fromUnixTimestamp64Milli({time.from_ms})", f"fromUnixTimestamp64Milli({time.to_ms})"
    interval_s = int(max(time.interval_s, 1))
    interval_ms = int(max(time.interval_s * 1000, 1))
    with_column = {
        "timeFilter": lambda c: f"{c} >= toDateTime({f}) AND {c} <= toDateTime({t})",
        "timeFilter_ms": lambda c: f"{c} >= {f_ms} AND {c} <= {t_ms}",
        "dateFilter": lambda c: f"{c} >= {_date(f)} AND {c} <= {_date(t)}",
        "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {interval_s} second)",
        "timeInterval_ms": lambda c: f"toStartOfInterval(toDateTime64({c}, 3), INTERVAL {interval_ms} millisecond)",
    }
    plain = {"fromTime": f"toDateTime({f})", "toTime": f"toDateTime({t})", "fromTime_ms": f_ms, "toTime_ms": t_ms,
             "interval_s": str(interval_s)}
    out, pos = [], 0
    for match in re.finditer(r"\$__(\w+)", sql):
        if match.start() < pos:
            continue
        name = match.group(1)
        out.append(sql[pos:match.start()])
        if name in with_column and match.end() < len(sql) and sql[match.end()] == "(":
            args, pos = _args(sql, match.end())
            out.append(with_column[name](args[0].strip()))
        elif name in plain:
            out.append(plain[name])
            pos = match.end()
        else:
            raise ValueError(f"macro $__{name} is not one the ClickHouse plugin expands")
    return "".join(out) + sql[pos:]


def expand(sql: str, time: TimeRange, variables: dict[str, str | list[str]] | None = None,
           all_values: dict[str, list[str]] | None = None) -> str:
    variables = variables or {}
    sql = conditional_all(sql, variables)
    sql = template_variables(sql, variables, all_values or {})
    return time_macros(sql, time)

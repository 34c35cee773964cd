"""Number capacity on real embedded ClickHouse: inventory import, per-number hits through the cdr
table's materialised views, quarantine verdicts checked against a plain-Python recount."""
from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from cdrflow.clickhouse.client import connect
from cdrflow.clickhouse.migrate import migrate
from cdrflow.infra.config import Settings
from cdrflow.numbering.inventory import (
    VERDICTS,
    InventoryError,
    build_checkpoint,
    call_tracking_query,
    import_inventory,
    release_candidates_query,
)

from support.numbering import call, store, write_csv

DAY = timedelta(days=1)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)       # first day of the simulated history
AS_OF = T0 + 100 * DAY + timedelta(hours=12)         # the question is asked on day 100
_databases = itertools.count()


@pytest.fixture(scope="module")
def chdb_path(tmp_path_factory):
    # One embedded ClickHouse per process: every test gets its own database in it instead.
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def capacity(chdb_path, tmp_path):
    settings = Settings(data_dir=tmp_path, clickhouse_url=f"chdb://{chdb_path}", retention_days=5000,
                        clickhouse_database=f"numbers_{next(_databases)}")
    client = connect(settings)
    migrate(client, settings)
    return settings, client


def run(client):
    return lambda sql, parameters: client.query(sql, parameters=parameters)


def release_candidates(client, settings, **options) -> list[dict]:
    return list(client.query(*release_candidates_query(settings, **options)).named_results())


def call_tracking(client, settings, *args, **options) -> list[dict]:
    return list(client.query(*call_tracking_query(settings, *args, **options)).named_results())


# ---- the simulated 100-day history ---------------------------------------------------------------

def simulate_history(seed: int = 7):
    """200 numbers in one block (in service for a year), single-number status changes during the
    100 days, and calls drawn per number and day; also calls to numbers outside the capacity."""
    rng = random.Random(seed)
    numbers = [f"+1212555{1000 + i}" for i in range(200)]
    rows = [f"+12125551000..+12125551199,in_service,acme,,{(T0 - 365 * DAY).date()}"]
    events = {n: [(T0 - 365 * DAY, "in_service")] for n in numbers}
    for n in numbers:
        kind = rng.random()
        if kind < 0.6:      # disconnected once, some long ago, some mid-period
            changes = [(T0 + timedelta(days=rng.randint(-60, 95), hours=rng.randint(0, 23)), "disconnected")]
        elif kind < 0.75:   # disconnected, then sold again mid-period
            d = rng.randint(-30, 60)
            changes = [(T0 + d * DAY, "disconnected"), (T0 + (d + rng.randint(5, 30)) * DAY, "in_service")]
        elif kind < 0.85:   # sold again, then disconnected again: the quarantine restarts
            d = rng.randint(-50, 20)
            changes = [(T0 + d * DAY, "disconnected"), (T0 + (d + 10) * DAY, "in_service"),
                       (T0 + (d + rng.randint(15, 60)) * DAY, "disconnected")]
        else:
            changes = []
        changes.append((AS_OF + 5 * DAY, "free"))  # after the question: must be ignored
        for since, status in changes:
            rows.append(f"{n},{status},acme,,{since.isoformat()}")
            events[n].append((since, status))
    calls, seq = [], 0
    for n in numbers:
        rate = rng.choice([0.0, 0.005, 0.02, 0.05, 0.3])
        for day in range(-10, 101):
            for _ in range(sum(rng.random() < rate for _ in range(4))):
                start = T0 + day * DAY + timedelta(seconds=rng.randint(0, 86_399))
                if start < AS_OF:
                    seq += 1
                    calls.append(call(seq, n, f"+1646555{rng.randint(0, 30):04d}", start, rng.random() < 0.5))
    for i in range(300):  # outside the capacity: never a hit
        calls.append(call(10**6 + i, f"+1212555{3000 + i % 50}", "+16465550001", T0 + (i % 100) * DAY, False))
    # an SBC 'start' record of a call is not a call of its own
    calls.append(call(seq, numbers[0], "+16465550001", T0 + 99 * DAY, False, kind="start"))
    return rows, events, calls


def expected_verdicts(events, calls, max_calls=3, window_days=90, min_days=90,
                      as_of=AS_OF) -> dict[str, tuple[int, str]]:
    """The quarantine rule, recounted in plain Python: number → (calls, verdict)."""
    per_day = Counter((c["called_number"], datetime.fromtimestamp(c["start_ms"] / 1000, timezone.utc).date())
                      for c in calls if c["record_kind"] != "start")
    today = as_of.date()
    verdicts = {}
    for number, history in events.items():
        past = sorted(e for e in history if e[0] <= as_of)
        if past[-1][1] != "disconnected":
            continue
        run_start = len(past) - 1
        while run_start > 0 and past[run_start - 1][1] == "disconnected":
            run_start -= 1
        since = past[run_start][0]
        first_day = max(today - timedelta(days=window_days - 1), since.date())
        hits = sum(count for (n, day), count in per_day.items() if n == number and first_day <= day <= today)
        days = int((as_of - since).total_seconds() // 86400)
        verdicts[number] = (hits, "dirty" if hits >= max_calls else "release" if days >= min_days else "waiting")
    return verdicts


@pytest.fixture(scope="module")
def history():
    return simulate_history()


@pytest.mark.parametrize("max_calls,window_days,min_days", [(3, 90, 90), (2, 30, 20), (5, 60, 0)])
def test_release_candidates_match_plain_recount(capacity, tmp_path, history, max_calls, window_days, min_days):
    settings, client = capacity
    rows, events, calls = history
    assert import_inventory(run(client), settings, write_csv(tmp_path / "inv.csv", rows)) == \
           (len(rows), 199 + len(rows))
    store(settings, client, calls)
    got = release_candidates(client, settings, as_of=AS_OF, max_calls=max_calls, window_days=window_days,
                                min_days=min_days, verdicts=VERDICTS)
    got = {r["number"]: (r["calls"], r["verdict"]) for r in got}
    expected = expected_verdicts(events, calls, max_calls, window_days, min_days)
    assert got == expected
    # the history exercises every verdict (none waits when no minimum quarantine is asked)
    assert {"release", "dirty"} | ({"waiting"} if min_days else set()) <= {v for _, v in expected.values()}


def verdicts(client, settings, **options) -> dict[str, tuple]:
    return {r["number"]: (r["calls"], r["answered"], r["last_call_day"], r["quarantine_since"], r["verdict"])
            for r in release_candidates(client, settings, verdicts=VERDICTS, **options)}


def stale(client, settings, as_of, window_days=90) -> set[str]:
    """Numbers the checkpointed question recounts from the day table instead of taking the checkpoint's counts."""
    return {f"+{n}" for (n,) in client.query(
        f"SELECT number FROM {settings.clickhouse_database}.number_quarantine_stale("
        "as_of = {as_of:DateTime64(3, 'UTC')}, "
        "window_days = {w:UInt32}, use_checkpoint = 1)", parameters={"as_of": as_of, "w": window_days}).result_rows}


def test_checkpoint_answers_as_the_day_table(capacity, tmp_path, history):
    """The checkpoint + today's hits give the day table's answer, also after a status change and a late
    hit that came after the checkpoint was built; without a checkpoint for the day and window, the
    question reads the day table."""
    settings, client = capacity
    settings = settings.model_copy(update={"quarantine_checkpoint_commit_lag_s": 0})  # inserts here are synchronous
    rows, events, calls = history
    events = {n: list(h) for n, h in events.items()}
    import_inventory(run(client), settings, write_csv(tmp_path / "inv.csv", rows))
    store(settings, client, calls)
    built = build_checkpoint(run(client), settings, as_of=AS_OF)
    expected = expected_verdicts(events, calls)
    assert (built.built, built.day, built.numbers) == (True, AS_OF.date(), len(expected))
    assert not build_checkpoint(run(client), settings, as_of=AS_OF).built      # once a day
    assert stale(client, settings, AS_OF) == set()     # every number takes the checkpoint's counts
    fast = verdicts(client, settings, as_of=AS_OF)
    assert fast == verdicts(client, settings, as_of=AS_OF, use_checkpoint=False)
    assert {n: (v[0], v[4]) for n, v in fast.items()} == expected

    # After the checkpoint, later the same day: one number sold again, one disconnected, one late hit
    # for a closed day in the window, one hit today.
    later = AS_OF + timedelta(hours=3)
    quiet = sorted(n for n, (calls_, _) in expected.items() if calls_ == 0)
    long_quiet = [n for n in quiet if max(e[0] for e in events[n] if e[0] <= AS_OF) < AS_OF - 5 * DAY]
    late = long_quiet[0]
    sold, today_hit = [n for n in quiet if n != late][:2]
    in_service = next(n for n, history in events.items() if n not in expected and history[-2][1] == "in_service")
    changes = [(sold, "in_service", AS_OF + timedelta(hours=1)),
               (in_service, "disconnected", AS_OF + timedelta(hours=2))]
    import_inventory(run(client), settings, write_csv(tmp_path / "later.csv", [
        f"{n},{status},acme,,{since.isoformat()}" for n, status, since in changes]))
    for n, status, since in changes:
        events[n].append((since, status))
    new_calls = [call(900_001, late, "+16465550099", AS_OF - 3 * DAY, True),  # a closed day after its quarantine began
                 call(900_002, today_hit, "+16465550099", AS_OF + timedelta(hours=1), False)]
    store(settings, client, new_calls)
    fast = verdicts(client, settings, as_of=later)
    assert fast == verdicts(client, settings, as_of=later, use_checkpoint=False)
    assert stale(client, settings, later) == {sold, in_service, late}   # the rest came from the checkpoint
    expected_later = expected_verdicts(events, calls + new_calls, as_of=later)
    assert {n: (v[0], v[4]) for n, v in fast.items()} == expected_later
    assert sold not in fast and in_service in fast
    assert (fast[late][0], fast[today_hit][0]) == (expected[late][0] + 1, expected[today_hit][0] + 1) == (1, 1)
    assert fast[today_hit][2] == AS_OF.date()

    # No checkpoint for the window asked, or for the day asked: the day table answers.
    assert verdicts(client, settings, as_of=later, window_days=30) == \
        verdicts(client, settings, as_of=later, window_days=30, use_checkpoint=False)
    next_day = AS_OF + DAY
    assert {n: (v[0], v[4]) for n, v in verdicts(client, settings, as_of=next_day).items()} == \
        expected_verdicts(events, calls + new_calls, as_of=next_day)


def test_status_changes_mid_period(capacity, tmp_path):
    """Calls while in service do not count against the quarantine; a number sold again leaves it."""
    settings, client = capacity
    write_csv(tmp_path / "inv.csv", [
        f"+12125550100..+12125550102,in_service,acme,,{(T0 - 400 * DAY).date()}",
        f"+12125550100,disconnected,acme,,{(T0 - 10 * DAY).date()}",   # busy before, quiet since
        f"+12125550101,disconnected,acme,,{(T0 - 120 * DAY).date()}",
        f"+12125550101,in_service,beta,,{(T0 - 5 * DAY).date()}",      # sold again: not in quarantine
        f"+12125550102,disconnected,acme,,{(T0 - 300 * DAY).date()}",   # callers keep dialling: dirty
    ])
    import_inventory(run(client), settings, tmp_path / "inv.csv")
    busy = [call(i, "+12125550100", f"+1646555{i:04d}", T0 - (20 + i) * DAY, True) for i in range(10)]
    dirty = [call(100 + i, "+12125550102", "+16465550007", T0 - i * DAY, False) for i in range(3)]
    store(settings, client, busy + dirty)
    got = {r["number"]: (r["calls"], r["verdict"]) for r in
           release_candidates(client, settings, as_of=T0, min_days=5, verdicts=VERDICTS)}
    assert got == {"+12125550100": (0, "release"), "+12125550102": (3, "dirty")}
    # the default 90-day minimum keeps the 10-day quarantine waiting
    assert [r["verdict"] for r in release_candidates(client, settings, as_of=T0, verdicts=VERDICTS)
            if r["number"] == "+12125550100"] == ["waiting"]


def test_call_tracking_per_channel(capacity, tmp_path):
    settings, client = capacity
    write_csv(tmp_path / "inv.csv", [
        f"+12125550200,in_service,acme,google-ads,{T0.date()}",
        f"+12125550201,in_service,acme,billboard,{T0.date()}",
        f"+12125550200,in_service,acme,facebook,{(T0 + 2 * DAY).isoformat()}",  # relabelled on day 2
        f"+12125550202,free,,,{T0.date()}",
    ])
    import_inventory(run(client), settings, tmp_path / "inv.csv")
    cdrs = [call(1, "+12125550200", "+16465550001", T0 + timedelta(hours=9), True),
            call(2, "+12125550200", "+16465550001", T0 + timedelta(hours=10), False),
            call(3, "+12125550200", "+16465550002", T0 + timedelta(hours=11), True),
            call(4, "+12125550200", "+16465550001", T0 + 2 * DAY, True),
            call(5, "+12125550200", "+16465550003", T0 + 2 * DAY, False),
            call(6, "+12125550201", "+16465550001", T0 + DAY, True),
            call(7, "+12125550202", "+16465550001", T0 + DAY, True)]   # not a tracking number
    store(settings, client, cdrs)
    rows = [(r["day"], r["channel"], r["tracking_number"], r["calls"], r["unique_callers"], r["answered"],
             r["first_time_callers"]) for r in call_tracking(client, settings, T0.date(), (T0 + 9 * DAY).date())]
    assert rows == [(T0.date(), "google-ads", "+12125550200", 3, 2, 2, 2),
                    (T0.date() + DAY, "billboard", "+12125550201", 1, 1, 1, 1),
                    (T0.date() + 2 * DAY, "facebook", "+12125550200", 2, 2, 1, 1)]
    assert call_tracking(client, settings, T0.date(), T0.date(), tenant="beta") == []


def test_hits_count_only_capacity_and_each_cdr_once(capacity, tmp_path):
    settings, client = capacity
    write_csv(tmp_path / "inv.csv", [f"+12125550300,disconnected,acme,,{(T0 - 100 * DAY).date()}"])
    import_inventory(run(client), settings, tmp_path / "inv.csv")
    cdrs = [call(i, "+12125550300", "+16465550001", T0 - i * DAY, False) for i in range(2)]
    store(settings, client, cdrs)
    store(settings, client, cdrs)   # redelivery: the writer skips stored cdr_ids, the views see them once
    store(settings, client, [call(9, "+12125550399", "+16465550001", T0, False)])  # outside the capacity
    assert [(r["number"], r["calls"]) for r in release_candidates(client, settings, as_of=T0, verdicts=VERDICTS)] \
        == [("+12125550300", 2)]


@pytest.mark.parametrize("row,reason", [
    ("+12125550100,sold,acme,,2026-01-01", "line 3: status 'sold'"),
    ("12,in_service,acme,,2026-01-01", "line 3: not a possible phone number: '12'"),
    ("+12125550100,in_service,acme,,yesterday", "line 3: Invalid isoformat"),
    ("+12125550100,in_service,acme", "line 3: 3 columns"),
    ("+12125550199..+12125550100,free,,,2026-01-01", "line 3: bad block"),
    ("+12125550100..+442071234567,free,,,2026-01-01", "line 3: bad block"),
    ("+12120000000..+12139999999,free,,,2026-01-01", "more than"),
])
def test_bad_rows_import_nothing(capacity, tmp_path, row, reason):
    settings, client = capacity
    path = write_csv(tmp_path / "inv.csv", ["+12125550101,in_service,acme,,2026-01-01", row])
    with pytest.raises(InventoryError) as raised:
        import_inventory(run(client), settings, path)
    assert reason in str(raised.value)
    assert client.query(f"SELECT count() FROM {settings.clickhouse_database}.number_blocks").result_rows == [(0,)]


def test_bad_header(capacity, tmp_path):
    settings, client = capacity
    (tmp_path / "inv.csv").write_text("phone,state\n+12125550100,free\n")
    with pytest.raises(InventoryError, match="line 1: header"):
        import_inventory(run(client), settings, tmp_path / "inv.csv")


def test_cli_import_and_release_candidates(tmp_path):
    """The commands as users run them, on a chdb of their own process."""
    env = {**os.environ, "CDRFLOW_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    env.pop("CDRFLOW_CLICKHOUSE_URL", None)

    def cdrflow(*args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cdrflow", *args], env=env, capture_output=True, text=True,
                              timeout=120)

    assert cdrflow("migrate").returncode == 0
    bad = write_csv(tmp_path / "bad.csv",
                    ["+12125550100,disconnected,acme,,2025-01-01", "+12125550101,gone,acme,,2025-01-01"])
    answer = cdrflow("numbers", "import", str(bad))
    assert answer.returncode == 1 and "line 3: status 'gone'" in answer.stderr
    good = write_csv(tmp_path / "good.csv", ["+12125550100..+12125550101,disconnected,acme,,2025-01-01"])
    assert "imported 1 rows (2 numbers)" in cdrflow("numbers", "import", str(good)).stdout
    built = cdrflow("numbers", "checkpoint", "--as-of", "2025-06-01")
    assert "checkpoint for 2025-06-01, 90-day window: 2 numbers, built in" in built.stdout, built.stderr
    assert "already built" in cdrflow("numbers", "checkpoint", "--as-of", "2025-06-01").stdout
    listed = cdrflow("numbers", "release-candidates", "--as-of", "2025-06-01")
    assert listed.returncode == 0, listed.stderr
    assert "+12125550100" in listed.stdout and "+12125550101" in listed.stdout
    assert "can only be built once that day has begun" in \
        cdrflow("numbers", "checkpoint", "--as-of", "2099-01-01").stderr

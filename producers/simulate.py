"""A seeded generator of realistic carrier CDRs: the source for the demo and the benchmarks.

Pure: no Kafka, no I/O. `generate(cfg)` yields dicts shaped like `CDR.model_dump()` in
non-decreasing start_ms order; the same SimConfig always yields the same records, and a shorter
run is a prefix of a longer one.

The traffic model, in brief:
- arrivals are Poisson; with `diurnal` the rate follows a daily curve in the home region's local
  time (peak 10:00-17:00, ~5 % of peak at 03:00-04:00). `calls_per_second` is the peak rate.
- each call goes out to an interconnect (customer trunk → interconnect trunk) or comes in from
  one (interconnect trunk → customer trunk); interconnects differ in volume and baseline ASR
  (see PROFILES); *-intl interconnects carry foreign numbers and have longer PDD.
- outcomes are Q.850 cause + SIP final response pairs chosen so that classify() gives the same
  class from either code alone (RFC 3398 map in schemas/causes.py), so a parser that keeps only
  one of them still classifies the call right.
- a Fault changes one interconnect's calls inside its window and nothing else: faults draw from
  their own RNG and every call consumes the same draws from the main RNG, so the calls outside
  the faulted interconnect/window are the same as in a run without the fault (after a
  traffic_vanish their native_id/cdr_id differ, because per-source sequences stay gap-free;
  ids carry a seed.start_ms run tag, so separate runs never share a cdr_id).

Speed (the benchmark source must outrun the pipeline): calls are drawn in blocks of BLOCK with
numpy, from PCG64 streams seeded by `random.Random(seed)` (raw PCG64 output is stable across
numpy versions); only the uuid5 hash and the dict assembly are per-record Python, and no pydantic
model is built per record.
"""
from __future__ import annotations

import math
import time
from bisect import bisect_left
from heapq import heappop, heappush
from dataclasses import dataclass, field
from itertools import chain
from random import Random
from statistics import NormalDist
from typing import Iterable, Iterator, Literal, NamedTuple

import numpy as np

try:  # CPython's own SHA-1 skips OpenSSL's per-call setup: ~25 % faster on 50-byte uuid5 inputs
    from _sha1 import sha1 as _sha1
except ImportError:  # pragma: no cover - other interpreters
    from hashlib import sha1 as _sha1

from cdrflow.schemas._uuid5 import from_sha1_many as uuid5_texts
from cdrflow.schemas.cdr import CDR, CDR_NAMESPACE

FaultKind = Literal["answer_collapse", "traffic_vanish", "network_causes"]

# Share of the interconnect's calls the fault takes over, by kind:
#   answer_collapse  those calls fail (ASR falls to ~10 % of baseline, i.e. ~5 %)
#   network_causes   those calls fail with Q.850 34/38/41 (SIP 503/502)
#   traffic_vanish   those calls are never seen (the trunk silently loses them)
DEFAULT_STRENGTH: dict[str, float] = {"answer_collapse": 0.9, "network_causes": 0.6, "traffic_vanish": 1.0}


@dataclass(frozen=True)
class Fault:
    interconnect: str
    kind: FaultKind
    start_ms: int
    end_ms: int                     # exclusive: active while start_ms <= call start < end_ms
    strength: float | None = None   # None → DEFAULT_STRENGTH[kind]

    def __post_init__(self) -> None:
        if self.kind not in DEFAULT_STRENGTH:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.end_ms <= self.start_ms:
            raise ValueError("fault end_ms must be after start_ms")
        if self.strength is None:
            object.__setattr__(self, "strength", DEFAULT_STRENGTH[self.kind])
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError("fault strength is a share in [0, 1]")


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    seed: int = 1
    start_ms: int                       # event time of the first possible call, UTC epoch ms
    calls_per_second: float             # rate at the diurnal peak (the constant rate if not diurnal)
    interconnects: dict[str, str]       # trunk (or "source/trunk") → interconnect, as in Settings
    sources: tuple[str, ...] = ("sbc-nyc-1", "sbc-chi-1", "sw-asterisk-1")
    home_region: str = "US"
    faults: tuple[Fault, ...] = ()
    diurnal: bool = True
    # customer trunk → its DIDs (E.164, home region), in place of random ones (a tenant's numbers)
    dids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # numbers nobody owns that callers keep dialling (404s), in place of 500 random ones
    spare_numbers: tuple[str, ...] = ()


class Profile(NamedTuple):
    weight: float       # relative share of all calls
    asr: float          # baseline answered / seizures
    inbound: float      # share of its calls that come in from the interconnect


# Demo carriers (config.DEMO_INTERCONNECTS); any other interconnect gets DEFAULT_PROFILE
# (or INTL_PROFILE for a *-intl name). Mobile terminations answer more, wholesale/intl less.
PROFILES: dict[str, Profile] = {
    "verizon": Profile(3.0, 0.58, 0.50),
    "att": Profile(2.5, 0.56, 0.50),
    "tmobile": Profile(2.0, 0.63, 0.45),
    "lumen": Profile(1.5, 0.52, 0.55),
    "bandwidth": Profile(2.0, 0.48, 0.60),
    "bt-intl": Profile(0.5, 0.47, 0.40),
    "orange-intl": Profile(0.4, 0.46, 0.40),
    "dtag-intl": Profile(0.4, 0.50, 0.40),
}
DEFAULT_PROFILE = Profile(1.0, 0.55, 0.50)
INTL_PROFILE = Profile(0.4, 0.48, 0.40)


def interconnect_profile(interconnect: str) -> Profile:
    if interconnect in PROFILES:
        return PROFILES[interconnect]
    return INTL_PROFILE if interconnect.endswith("-intl") else DEFAULT_PROFILE


# ---- numbering ------------------------------------------------------------------------------

class _Plan(NamedTuple):
    cc: str
    trunk_prefix: str            # national format = trunk_prefix + NSN ("" for NANP)
    idd: str                     # international prefix dialled from this region
    utc_offset_h: int            # standard time; DST ignored so output does not depend on tzdata
    ranges: tuple[tuple[str, str, int], ...]  # NSN = prefix + one of first digits + n free digits


# Ranges checked against libphonenumber (tests/test_simulate.py); they avoid drama, pager and
# special-service ranges, so every generated number is a valid number of its country.
_PLANS: dict[str, _Plan] = {
    "US": _Plan("1", "", "011", -5, tuple((npa, "23456789", 6) for npa in (
        "212", "646", "718", "917", "312", "773", "415", "213", "305", "404",
        "617", "202", "214", "713", "206", "303", "602", "702", "215", "612"))),
    "GB": _Plan("44", "0", "00", 0, (("20", "378", 7), ("161", "23456789", 6), ("7", "458", 8))),
    "FR": _Plan("33", "0", "00", 1, (("1", "23456789", 7), ("4", "23456789", 7), ("6", "0124567", 7),
                                     ("7", "5678", 7))),
    "DE": _Plan("49", "0", "00", 1, (("30", "23456789", 7), ("89", "23456789", 7),
                                     ("151", "0123456789", 7), ("40", "23456789", 7))),
}
# Which country an *-intl interconnect terminates to, by name; others rotate over _PLANS.
_INTL_HINTS = {"bt": "GB", "orange": "FR", "dtag": "DE", "telefonica": "DE", "vodafone": "GB"}


def _numbers(rng: Random, plan: _Plan, home: _Plan, n: int, taken: set[str]) -> list[str]:
    """n distinct numbers, flattened as three presentations each, as switches send them:
    home numbers  (E.164, national, "1"+NSN for NANP / national elsewhere);
    foreign ones  (E.164, IDD+CC+NSN, IDD+CC+NSN) — i.e. as dialled from home."""
    out: list[str] = []
    while len(out) < 3 * n:
        prefix, first, free = plan.ranges[rng.randrange(len(plan.ranges))]
        nsn = f"{prefix}{rng.choice(first)}{rng.randrange(10 ** free):0{free}d}"
        e164 = f"+{plan.cc}{nsn}"
        if e164 in taken:
            continue
        taken.add(e164)
        if plan is home:
            national = home.trunk_prefix + nsn
            out += (e164, national, "1" + nsn if home.cc == "1" else national)
        else:
            dialled = f"{home.idd}{plan.cc}{nsn}"
            out += (e164, dialled, dialled)
    return out


def _presentations(e164s: Iterable[str], home: _Plan) -> list[str]:
    """Configured home numbers in E.164, flattened as _numbers presents home numbers."""
    out: list[str] = []
    for e164 in e164s:
        if not e164.startswith(f"+{home.cc}"):
            raise ValueError(f"configured number {e164!r} is not an E.164 number of the home region (+{home.cc})")
        nsn = e164[1 + len(home.cc):]
        national = home.trunk_prefix + nsn
        out += (e164, national, "1" + nsn if home.cc == "1" else national)
    return out


# ---- precomputed distributions ---------------------------------------------------------------

_Q = 4096  # resolution of every quantile table


def _lognormal_table(median_ms: float, sigma: float, floor_ms: int) -> np.ndarray:
    inv = NormalDist().inv_cdf
    return np.array([max(floor_ms, int(median_ms * math.exp(sigma * inv((i + 0.5) / _Q)))) for i in range(_Q)])


def _talk_table() -> np.ndarray:
    """Answered-call talk time: 8 % very short (1-6 s: wrong numbers, voicemail hang-ups), the rest
    lognormal with median ~95 s, mean ~160 s; overall mean ~2.5 min. _Q + 1 points to interpolate."""
    inv = NormalDist().inv_cdf
    short = 0.08
    out = []
    for i in range(_Q + 1):
        u = min(i / _Q, 1 - 1e-6)
        if u < short:
            out.append(1000 + 5000 * u / short)
        else:
            out.append(min(4 * 3600_000, 97_000 * math.exp(inv((u - short) / (1 - short)))))
    return np.array(out)


def _pick_table(weighted: Iterable[tuple[object, float]], n: int = 2000) -> list:
    """A lookup list: table[int(u * n)] for uniform u draws item with probability weight / total."""
    items = [(item, w) for item, w in weighted if w > 0]
    total = sum(w for _, w in items)
    table, acc, k = [], 0.0, 0
    for item, w in items:
        acc += w / total
        while k < n and (k + 0.5) / n < acc:
            table.append(item)
            k += 1
    table.extend([items[-1][0]] * (n - len(table)))  # float rounding at the tail
    return table


# Local time → share of peak rate, one point per hour (business traffic: low at night, plateau
# 10:00-17:00, lunch dip, long evening tail), linear in between.
_HOURLY = (0.12, 0.08, 0.06, 0.05, 0.05, 0.07, 0.14, 0.30, 0.55, 0.82, 0.97, 1.00,
           0.90, 0.93, 1.00, 0.98, 0.93, 0.80, 0.58, 0.42, 0.33, 0.27, 0.21, 0.16)
DIURNAL_BY_MINUTE: tuple[float, ...] = tuple(
    _HOURLY[m // 60] + (_HOURLY[(m // 60 + 1) % 24] - _HOURLY[m // 60]) * (m % 60) / 60 for m in range(1440))

# ---- outcomes ---------------------------------------------------------------------------------

# How a call's timeline is built, per outcome.
_ANSWER, _NO_ANSWER, _ABANDON, _REJECT, _FAST, _TIMEOUT = range(6)
_INITIATORS = ("caller", "callee", "network")


class _Outcome(NamedTuple):
    timing: int
    q850: int
    sip: int
    initiator: str
    spare: bool = False  # inbound: the called number is operator capacity no customer owns


def _baseline_outcomes(asr: float) -> list[tuple[_Outcome, float]]:
    """Outcome mix for one interconnect: the ASR varies, caller abandonment and number/network
    failures stay at carrier-typical low rates, and user causes take the rest, so NER ≈ 95 %
    strictly (≈ 98 % counting caller abandonment as network-effective)."""
    abandon, number, network = 0.03, 0.012, 0.008
    user = 1.0 - asr - abandon - number - network
    return [
        (_Outcome(_ANSWER, 16, 200, "caller"), asr * 0.55),
        (_Outcome(_ANSWER, 16, 200, "callee"), asr * 0.45),
        (_Outcome(_ABANDON, 16, 487, "caller"), abandon),         # classify → "abandoned"
        (_Outcome(_FAST, 17, 486, "callee"), user * 0.38),         # busy
        (_Outcome(_NO_ANSWER, 19, 480, "network"), user * 0.44),   # rang out, no-answer timer
        (_Outcome(_TIMEOUT, 18, 480, "network"), user * 0.08),     # no user responding (alerting timer)
        (_Outcome(_REJECT, 21, 603, "callee"), user * 0.10),       # declined
        (_Outcome(_FAST, 1, 404, "network", True), number * 0.75),
        (_Outcome(_FAST, 28, 484, "network"), number * 0.25),
        (_Outcome(_FAST, 34, 503, "network"), network * 0.30),
        (_Outcome(_FAST, 38, 502, "network"), network * 0.20),
        (_Outcome(_FAST, 41, 503, "network"), network * 0.20),
        (_Outcome(_TIMEOUT, 102, 408, "network"), network * 0.20),
        (_Outcome(_FAST, 127, 488, "network"), network * 0.10),
    ]


# What the calls a fault takes over end with. A collapsing interconnect still seizes, but calls
# time out, ring into nothing or fail inside the partner; a network fault returns 5xx.
_FAULT_OUTCOMES: dict[str, list[tuple[_Outcome, float]]] = {
    "answer_collapse": [
        (_Outcome(_TIMEOUT, 102, 408, "network"), 0.35),
        (_Outcome(_NO_ANSWER, 19, 480, "network"), 0.25),
        (_Outcome(_FAST, 41, 500, "network"), 0.20),
        (_Outcome(_FAST, 38, 502, "network"), 0.20),
    ],
    "network_causes": [
        (_Outcome(_FAST, 34, 503, "network"), 0.40),
        (_Outcome(_FAST, 38, 502, "network"), 0.30),
        (_Outcome(_FAST, 41, 503, "network"), 0.30),
    ],
}

_CUSTOMERS = ("ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI", "STARK", "WAYNE", "TYRELL",
              "CYBERDYNE", "WONKA", "SOYLENT", "VANDELAY", "PIEDPIPER", "DUNDER", "OSCORP", "MASSIVE")

BLOCK = 4096  # calls drawn per numpy step; fixed, so output never depends on count/until_ms
_FIELDS = tuple(CDR.model_fields)  # records keep the model's field order, like model_dump()
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_DAY_MS, _MIN_MS = 86_400_000, 60_000
_POW10 = 10.0 ** np.arange(11, -1, -1)   # native ids carry a 12-digit sequence


def _hex_rows(raw: np.ndarray) -> np.ndarray:
    """(n, k) bytes → (n, 2k) ASCII hex digits."""
    out = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 15]
    return out


def _split(text_rows: np.ndarray) -> list[str]:
    width = text_rows.shape[1]
    text = text_rows.tobytes().decode("ascii")
    return [text[i:i + width] for i in range(0, len(text), width)]


class _Traffic:
    """Everything precomputed from a SimConfig; `blocks()` yields lists of records."""

    def __init__(self, cfg: SimConfig) -> None:
        if cfg.calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive")
        home = _PLANS.get(cfg.home_region)
        if home is None:
            raise ValueError(f"no number plan for home_region {cfg.home_region!r}; have {sorted(_PLANS)}")
        rng = Random(cfg.seed)
        self.bits = np.random.PCG64(rng.getrandbits(128))
        self.fault_bits = np.random.PCG64(rng.getrandbits(128))

        # Sources: the configured ones take random traffic; "source/trunk" keys pin a trunk.
        sources = list(cfg.sources)
        routes_in: list[tuple[str, str | None, str]] = []
        for key, ic in cfg.interconnects.items():
            src, _, trunk = key.rpartition("/")
            if src and src not in sources:
                sources.append(src)
            routes_in.append((trunk, src or None, ic))
        if not cfg.sources or not routes_in:
            raise ValueError("need at least one source and one interconnect trunk")
        ics = sorted({ic for _, _, ic in routes_in})
        ic_index = {ic: i for i, ic in enumerate(ics)}
        self.sources = sources
        self.run_tag = f"{cfg.seed}.{cfg.start_ms}-".encode()   # see _ids

        # Numbering. One `taken` set keeps every pool disjoint (a DID is never a remote number).
        # Pools are finite so numbers repeat, as real subscribers do (downstream caches rely on it).
        taken: set[str] = set()
        foreign_regions = [r for r in _PLANS if r != cfg.home_region]
        foreign_of: dict[str, str] = {}
        for i, ic in enumerate(x for x in ics if x.endswith("-intl")):
            hinted = [r for hint, r in _INTL_HINTS.items() if ic.startswith(hint) and r in foreign_regions]
            foreign_of[ic] = hinted[0] if hinted else foreign_regions[i % len(foreign_regions)]
        remote: list[str] = []
        pool_at: dict[str | None, tuple[int, int]] = {}   # region (None = home) → (offset, size)
        pools = [(None, home, 30_000)] + [(r, _PLANS[r], 3000) for r in sorted(set(foreign_of.values()))]
        for region, plan, size in pools:
            pool_at[region] = (len(remote) // 3, size)
            remote += _numbers(rng, plan, home, size, taken)
        self.remote = np.array(remote, dtype=object)

        # Customers (PBX/SIP trunks "CUST-…"), homed round-robin on sources, Zipf-ish in volume
        # and DID count; then the operator's spare capacity (numbers nobody owns).
        n_cust = max(len(_CUSTOMERS), len(sources))
        local: list[str] = []
        cust_at = []
        for c in range(n_cust):
            size = 4 + 400 // (c + 1)
            cust_at.append((len(local) // 3, size))
            local += _numbers(rng, home, home, size, taken)
        self.spare_at = (len(local) // 3, 500)
        local += _numbers(rng, home, home, 500, taken)
        trunks = [f"CUST-{_CUSTOMERS[c]}" if c < len(_CUSTOMERS) else f"CUST-{c:03d}" for c in range(n_cust)]
        # Configured numbers replace random ones after those were drawn, so every other number and
        # call is the same as without them.
        for c, trunk in enumerate(trunks):
            if cfg.dids.get(trunk):
                cust_at[c] = (len(local) // 3, len(cfg.dids[trunk]))
                local += _presentations(cfg.dids[trunk], home)
        if cfg.spare_numbers:
            self.spare_at = (len(local) // 3, len(cfg.spare_numbers))
            local += _presentations(cfg.spare_numbers, home)
        self.local = np.array(local, dtype=object)
        self.cust_off = np.array([o for o, _ in cust_at])
        self.cust_len = np.array([n for _, n in cust_at])
        self.cust_trunk = np.array(trunks, dtype=object)
        self.cust_of_source = np.array([_pick_table(((c, 1 / (c + 1) ** 0.8) for c in range(n_cust)
                                                     if c % len(sources) == s), 1000) for s in range(len(sources))])
        # Number presentation is a switch habit: each source has a dominant format (E.164,
        # national, NANP 1+national), with some mixing from trunks configured differently.
        self.fmt_of_source = np.array([_pick_table(((k, 0.8 if k == s % 3 else 0.1) for k in range(3)), 100)
                                       for s in range(len(sources))])
        self.source_table = np.array(_pick_table(((s, 1 / (s + 1)) for s in range(len(cfg.sources))), 1000))
        self.source_names = np.array(sources, dtype=object)
        self.seq = [0] * len(sources)

        # Outcomes: one numbered list; per-interconnect and per-fault pick tables of indexes.
        outcomes: list[_Outcome] = []

        def outcome_ids(weighted: list[tuple[_Outcome, float]]) -> np.ndarray:
            for o, _ in weighted:
                if o not in outcomes:
                    outcomes.append(o)
            return np.array(_pick_table((outcomes.index(o), w) for o, w in weighted))

        self.outcome_table = np.stack([outcome_ids(_baseline_outcomes(interconnect_profile(ic).asr)) for ic in ics])
        self.faults = []
        for f in cfg.faults:
            if f.interconnect not in ic_index:
                raise ValueError(f"fault on unknown interconnect {f.interconnect!r}")
            table = outcome_ids(_FAULT_OUTCOMES[f.kind]) if f.kind in _FAULT_OUTCOMES else None  # None: vanish
            self.faults.append((ic_index[f.interconnect], f.start_ms, f.end_ms, f.strength, table))
        self.o_timing = np.array([o.timing for o in outcomes])
        self.o_q850 = np.array([o.q850 for o in outcomes])
        self.o_sip = np.array([o.sip for o in outcomes])
        self.o_initiator = np.array([o.initiator for o in outcomes], dtype=object)
        self.o_spare = np.array([o.spare for o in outcomes])

        # Routes: (interconnect trunk, direction) weighted by the interconnect's profile.
        trunks_per_ic = {ic: sum(1 for _, _, x in routes_in if x == ic) for ic in ics}
        weighted = []
        for trunk, src, ic in routes_in:
            prof = interconnect_profile(ic)
            w = prof.weight / trunks_per_ic[ic]
            pinned = sources.index(src) if src else -1
            for inbound, share in ((True, prof.inbound), (False, 1 - prof.inbound)):
                weighted.append(((trunk, inbound, ic_index[ic], pinned, pool_at[foreign_of.get(ic)], ic in foreign_of),
                                 w * share))
        routes = [r for r, _ in weighted]
        self.route_table = np.array(_pick_table(((i, w) for i, (_, w) in enumerate(weighted)), 4000))
        self.r_trunk = np.array([r[0] for r in routes], dtype=object)
        self.r_inbound = np.array([r[1] for r in routes])
        self.r_ic = np.array([r[2] for r in routes])
        self.r_pinned = np.array([r[3] for r in routes])
        self.r_pool_off = np.array([r[4][0] for r in routes])
        self.r_pool_len = np.array([r[4][1] for r in routes])
        self.r_intl = np.array([r[5] for r in routes])

        self.pdd = np.stack([_lognormal_table(2000, 0.35, 300),    # domestic: ~1-4 s
                             _lognormal_table(3800, 0.35, 600)])   # international: ~2-7 s
        self.ring_answer = _lognormal_table(7000, 0.55, 500)       # ringing before pick-up
        self.talk = _talk_table()

        # Arrivals by time rescaling: a unit-rate Poisson process in "expected calls" time,
        # mapped back through the cumulative intensity, which is piecewise linear per local minute
        # — exact for a rate that is constant within each minute, and fully vectorised.
        per_min = np.array(DIURNAL_BY_MINUTE if cfg.diurnal else [1.0] * 1440) * cfg.calls_per_second * 60
        self.per_min = per_min
        self.cum = np.concatenate([[0.0], np.cumsum(per_min)])
        self.tz_ms = home.utc_offset_h * 3_600_000
        local0 = cfg.start_ms + self.tz_ms
        self.day0 = local0 // _DAY_MS
        within = local0 - self.day0 * _DAY_MS
        m = within // _MIN_MS
        self.s = self.cum[m] + per_min[m] * (within - m * _MIN_MS) / _MIN_MS  # expected calls since day0

    @staticmethod
    def _uniforms(bits: np.random.PCG64, n: int, k: int = 1) -> np.ndarray:
        """(n, k) uniforms in [0, 1), 53 random bits each, from raw (version-stable) PCG64 output."""
        return (bits.random_raw(n * k).reshape(n, k) >> np.uint64(11)) * (1.0 / (1 << 53))

    def _ids(self, src: np.ndarray, seq: np.ndarray) -> tuple[list[str], list[str]]:
        """native_id = f"{source}-{seed}.{start_ms}-{seq:012d}" and cdr_id = make_cdr_id(source,
        native_id), built a source at a time so every row of bytes has one width and numpy can lay
        them out. The run tag keeps two runs (another seed or start) from sharing ids, which the
        worker would otherwise drop as redeliveries."""
        n = len(src)
        native, cdr_id = np.empty(n, dtype=object), np.empty(n, dtype=object)
        # float64 floor division is exact here (seq < 2**53) and far faster than int64 division
        digits = (np.floor(seq[:, None] / _POW10) % 10 + 48).astype(np.uint8)
        sha1 = _sha1
        run = self.run_tag
        for s in np.unique(src):
            idx = np.flatnonzero(src == s)
            name = self.sources[s].encode()
            native_at = len(CDR_NAMESPACE.bytes) + len(name) + 1
            head = CDR_NAMESPACE.bytes + name + b"\x1f" + name + b"-" + run   # uuid5 input: ns + source \x1f native
            rows = np.empty((len(idx), len(head) + digits.shape[1]), dtype=np.uint8)
            rows[:, :len(head)] = np.frombuffer(head, dtype=np.uint8)
            rows[:, len(head):] = digits[idx]
            blob, w = rows.tobytes(), rows.shape[1]
            digests = b"".join([sha1(blob[i:i + w]).digest() for i in range(0, len(blob), w)])
            cdr_id[idx] = np.array(uuid5_texts(digests), dtype=object)
            native[idx] = np.array(_split(rows[:, native_at:]), dtype=object)
        return native.tolist(), cdr_id.tolist()

    def _starts(self, gaps: np.ndarray) -> np.ndarray:
        s = self.s + np.cumsum(-np.log1p(-gaps))
        self.s = s[-1]
        day_calls = self.cum[-1]
        days = np.floor(s / day_calls)
        rest = s - days * day_calls
        m = np.clip(np.searchsorted(self.cum, rest, side="right") - 1, 0, 1439)
        local = (self.day0 + days) * _DAY_MS + m * _MIN_MS + (rest - self.cum[m]) / self.per_min[m] * _MIN_MS
        return (local - self.tz_ms).astype(np.int64)

    def blocks(self) -> Iterator[tuple[int, list[dict]]]:
        """(start_ms of the block's last drawn call, records kept) for ever."""
        while True:
            u = self._uniforms(self.bits, BLOCK, 11)
            call_ids = _hex_rows(self.bits.random_raw(2 * BLOCK).astype("<u8").view(np.uint8).reshape(BLOCK, 16))
            start = self._starts(u[:, 0])
            route = self.route_table[(u[:, 1] * len(self.route_table)).astype(np.intp)]
            ic = self.r_ic[route]
            outcome = self.outcome_table[ic, (u[:, 2] * self.outcome_table.shape[1]).astype(np.intp)]

            # Faults: the first active fault on the call's interconnect decides, with its own draws.
            keep = np.ones(BLOCK, dtype=bool)
            claimed = np.zeros(BLOCK, dtype=bool)
            for f_ic, f_start, f_end, strength, table in self.faults:
                idx = np.flatnonzero((ic == f_ic) & (start >= f_start) & (start < f_end) & ~claimed)
                if not len(idx):
                    continue
                claimed[idx] = True
                fu = self._uniforms(self.fault_bits, len(idx), 2)
                hit = idx[fu[:, 0] < strength]
                if table is None:
                    keep[hit] = False
                else:
                    outcome[hit] = table[(fu[fu[:, 0] < strength, 1] * len(table)).astype(np.intp)]
            last_start = int(start[-1])
            if not keep.all():
                u, start, route, outcome = u[keep], start[keep], route[keep], outcome[keep]
                call_ids = call_ids[keep]
            n = len(start)
            if not n:
                yield last_start, []
                continue

            inbound = self.r_inbound[route]
            pinned = self.r_pinned[route]
            src = np.where(pinned >= 0, pinned, self.source_table[(u[:, 3] * len(self.source_table)).astype(np.intp)])
            fmt = self.fmt_of_source[src, (u[:, 7] * self.fmt_of_source.shape[1]).astype(np.intp)]
            cust = self.cust_of_source[src, (u[:, 4] * self.cust_of_source.shape[1]).astype(np.intp)]
            spare = self.o_spare[outcome] & inbound   # inbound call to a number nobody owns → 404
            spare_off, spare_len = self.spare_at
            local_i = np.where(spare, spare_off + (u[:, 5] * spare_len).astype(np.intp),
                               self.cust_off[cust] + (u[:, 5] * self.cust_len[cust]).astype(np.intp))
            local = self.local[local_i * 3 + fmt]
            remote_i = self.r_pool_off[route] + (u[:, 6] * self.r_pool_len[route]).astype(np.intp)
            remote = self.remote[remote_i * 3 + fmt]
            cust_trunk = np.where(spare, None, self.cust_trunk[cust])
            trunk = self.r_trunk[route]

            # Timeline: start → PDD → ringing → answer → talk → end, per outcome.
            timing = self.o_timing[outcome]
            r_ring = u[:, 9]
            pdd = self.pdd[self.r_intl[route].astype(np.intp), (u[:, 8] * _Q).astype(np.intp)]
            x = u[:, 10] * _Q
            i = x.astype(np.intp)
            talk = (self.talk[i] + (x - i) * (self.talk[i + 1] - self.talk[i])).astype(np.int64)
            ring = np.select(
                [timing == _ANSWER, timing == _NO_ANSWER, timing == _ABANDON, timing == _REJECT],
                [self.ring_answer[(r_ring * _Q).astype(np.intp)],
                 20_000 + r_ring * 40_000,        # no-answer timers: 20-60 s
                 1000 + r_ring * 24_000,          # caller gives up while it rings
                 1000 + r_ring * 9000],           # callee declines
                0).astype(np.int64)
            # A final response without ringing (busy, 404, 5xx) arrives within the PDD.
            pdd = np.where(timing == _FAST, (pdd * (0.25 + 0.75 * r_ring)).astype(np.int64), pdd)
            answered = timing == _ANSWER
            answer = start + pdd + ring
            end = answer + np.where(answered, talk, 0)
            timeout = timing == _TIMEOUT   # a timer expired (SIP timer B/F = 64 × T1): no PDD
            end = np.where(timeout, start + 32_000 + (r_ring * 500).astype(np.int64), end)

            # Sequence numbers per source, over the records actually kept.
            seq = np.empty(n, dtype=np.int64)
            for s in np.unique(src):
                where = np.flatnonzero(src == s)
                seq[where] = self.seq[s] + np.arange(len(where))
                self.seq[s] += len(where)

            native, cdr_ids = self._ids(src, seq)
            columns = (
                cdr_ids, self.source_names[src].tolist(), native, _split(call_ids),
                start.tolist(), np.where(answered, answer.astype(object), None).tolist(), end.tolist(),
                (end - start).tolist(), np.where(answered, end - answer, 0).tolist(),
                np.where(inbound, remote, local).tolist(), np.where(inbound, local, remote).tolist(),
                np.where(inbound, trunk, cust_trunk).tolist(), np.where(inbound, cust_trunk, trunk).tolist(),
                self.o_q850[outcome].tolist(), self.o_sip[outcome].tolist(), self.o_initiator[outcome].tolist(),
                np.where(timeout, None, pdd.astype(object)).tolist(), seq.tolist(),
            )
            template = dict.fromkeys(_FIELDS)
            template.update(source_format="simulator", record_kind="stop", source_file="simulator")
            records = []
            append, copy = records.append, template.copy
            # Copy-and-fill beats a 27-key dict literal by ~2x in CPython.
            for (cdr_id, source, native_id, call_id, start_ms, answer_ms, end_ms, duration_ms, billable_ms,
                 calling, called, ingress, egress, q850, sip, initiator, pdd_ms, offset) in zip(*columns):
                rec = copy()
                rec["cdr_id"] = cdr_id
                rec["source"] = source
                rec["native_id"] = native_id
                rec["call_id"] = call_id
                rec["start_ms"] = start_ms
                rec["answer_ms"] = answer_ms
                rec["end_ms"] = end_ms
                rec["duration_ms"] = duration_ms
                rec["billable_ms"] = billable_ms
                rec["calling_number"] = calling
                rec["called_number"] = called
                rec["ingress_trunk"] = ingress
                rec["egress_trunk"] = egress
                rec["q850_cause"] = q850
                rec["sip_code"] = sip
                rec["disconnect_initiator"] = initiator
                rec["pdd_ms"] = pdd_ms
                rec["source_offset"] = offset
                append(rec)
            yield last_start, records


def generate(cfg: SimConfig, count: int | None = None, until_ms: int | None = None) -> Iterator[dict]:
    """CDR dicts (CDR.model_dump()-shaped, validated-equivalent) in non-decreasing start_ms order.

    Stops after `count` records or before the first call starting at/after `until_ms`, whichever
    comes first; endless if neither is given. The config is checked here, not at first next()."""
    # chain.from_iterable walks each block's list in C: no Python frame per record.
    return chain.from_iterable(_cut(_Traffic(cfg).blocks(), count, until_ms))


def _cut(blocks: Iterator[tuple[int, list[dict]]], count: int | None, until_ms: int | None) -> Iterator[list[dict]]:
    left = count
    for last_start, records in blocks:
        if until_ms is not None and last_start >= until_ms:
            records = records[:bisect_left(records, until_ms, key=lambda r: r["start_ms"])]
            yield records[:left] if left is not None else records
            return
        if left is not None:
            if len(records) >= left:
                yield records[:left]
                return
            left -= len(records)
        yield records


def as_written(records: Iterable[dict]) -> Iterator[dict]:
    """Calls in start order → their CDRs in the order a switch writes them: when the call ends.

    Holds the calls in progress in a heap (rate × longest call of them); a call's CDR comes out
    once the stream has passed its end time."""
    in_progress: list[tuple[int, int, dict]] = []
    for n, rec in enumerate(records):
        while in_progress and in_progress[0][0] <= rec["start_ms"]:
            yield heappop(in_progress)[2]
        heappush(in_progress, (rec["end_ms"], n, rec))
    while in_progress:
        yield heappop(in_progress)[2]


def paced(records: Iterable[dict], speed: float = 1.0, now=time.time, sleep=time.sleep,
          at: str = "start_ms", clock_ms: int | None = None) -> Iterator[dict]:
    """Replay records in (scaled) real time: each is yielded no earlier than its `at` time's offset
    from clock_ms (default: the first record's), divided by speed — records before clock_ms are
    history, yielded at once. The clock is read only when a record is due later than the last
    reading, so fast replays do not pay a syscall per record."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    t0 = wall0 = wall = None
    for rec in records:
        if t0 is None:
            t0, wall0 = (rec[at] if clock_ms is None else clock_ms), now()
            wall = wall0
        due = wall0 + (rec[at] - t0) / 1000.0 / speed
        if due > wall:
            wall = now()
            if due > wall:
                sleep(due - wall)
                wall = due
        yield rec


def default_config(settings, seed: int = 1, calls_per_second: float = 20.0, start_ms: int | None = None,
                   faults: Iterable[Fault] = ()) -> SimConfig:
    """The demo traffic for a cdrflow.infra.config.Settings: its trunk map, home region, tenants' DIDs
    and spare numbers, starting now."""
    return SimConfig(
        seed=seed,
        start_ms=int(time.time() * 1000) if start_ms is None else start_ms,
        calls_per_second=calls_per_second,
        interconnects=dict(settings.interconnects),
        home_region=settings.home_region,
        faults=tuple(faults),
        diurnal=settings.simulator_diurnal,
        dids={tenant.trunks[0]: dids for tenant in settings.tenants.values()
              if tenant.trunks and (dids := tuple(n for n in tenant.numbers if not n.endswith("*")))},
        spare_numbers=tuple(settings.simulator_spare_numbers),
    )

"""The one configuration model: defaults run embedded; CDRFLOW_* env vars or a TOML file override."""
from __future__ import annotations

import os
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from cdrflow.infra.notify_settings import NotifySettings

# A demo carrier topology: SBC trunk groups → the partner carrier (interconnect) behind them.
# The simulator draws its traffic from this map, so the embedded demo resolves every trunk.
DEMO_INTERCONNECTS: dict[str, str] = {
    "TG-VZ-01": "verizon",
    "TG-VZ-02": "verizon",
    "TG-ATT-01": "att",
    "TG-TMO-01": "tmobile",
    "TG-LUMEN-01": "lumen",
    "TG-BT-01": "bt-intl",
    "TG-ORANGE-01": "orange-intl",
    "TG-DTAG-01": "dtag-intl",
    "TG-BW-01": "bandwidth",
}

# The demo world (tenants, number inventory, numbers the simulator keeps calling), used only when
# the user configured nothing: no CDRFLOW_CONFIG and no tenants or interconnects of their own.
DEMO_WORLD = Path(__file__).with_name("demo_world.toml")
DEMO_INVENTORY = Path(__file__).with_name("demo_inventory.csv")
OWN_WORLD = ("tenants", "interconnects")   # settings that make a configuration the user's own


def configured_by_user(init_kwargs: dict) -> bool:
    if os.environ.get("CDRFLOW_CONFIG") or any(key in init_kwargs for key in OWN_WORLD):
        return True
    return any(name.upper().startswith(f"CDRFLOW_{key.upper()}") for name in os.environ for key in OWN_WORLD)


# Asterisk's cdr_custom.conf.sample [mappings] Master.csv line, the CDR() variables in column order.
ASTERISK_CUSTOM_SAMPLE_COLUMNS = (
    "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "start", "answer",
    "end", "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield", "sequence")


# The asteriskcdrdb `cdr` table's columns in the database's order (FreePBX 2.x … 17): what a
# headerless export of that table holds (a shorter row, from an older schema, stops earlier).
ASTERISK_CDRDB_COLUMNS = (
    "calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "duration",
    "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield", "did", "recordingfile", "cnum",
    "cnam", "outbound_cnum", "outbound_cnam", "dst_cnam", "linkedid", "peeraccount", "sequence")


class Thresholds(BaseModel):
    """When an interconnect incident opens (see incidents/detector.py); per interconnect overridable."""

    min_seizures: int = Field(30, ge=1,
                              description="Seizures (or expected seizures) a window needs before it is judged")
    window_minutes: int = Field(5, ge=1, le=60, description="Window of closed minutes each decision looks at")
    asr_margin: float = Field(0.15, gt=0, lt=1, description="ASR this far below baseline (absolute) opens an incident")
    ner_margin: float = Field(0.10, gt=0, lt=1, description="NER this far below baseline (absolute) opens an incident")
    network_share: float = Field(0.20, gt=0, lt=1, description="Share of network-class failures that opens an incident")
    vanish_ratio: float = Field(0.50, ge=0, lt=1, description="Traffic at or below this share of baseline has vanished")
    pdd_factor: float = Field(2.0, gt=1, description="Average PDD this many times baseline opens an incident")
    pdd_min_rise_ms: int = Field(1000, ge=0, description="…and at least this much above it")
    min_baseline_minutes: int = Field(20, ge=1, description="Minutes of traffic a baseline must cover before it is "
                                      "used: a fresh interconnect's first few minutes are no measure of it")
    quiet_minutes: int = Field(5, ge=1, description="Minutes without a breach before an incident resolves")
    alpha: float = Field(1e-6, gt=0, lt=0.01, description="A breach must also be this improbable under the "
                         "baseline (exact binomial tail), so sampling noise does not page")


class Tariff(BaseModel):
    """One price line of a tenant: calls to numbers starting with `prefix` (E.164 digits, no '+';
    '' matches everything) placed within [valid_from, valid_to)."""

    prefix: str = Field("", pattern=r"^[0-9]*$")
    name: str = Field("", description="Destination label shown in reports, e.g. 'UK mobile'")
    price_per_min: float = Field(ge=0)
    connection_fee: float = Field(0.0, ge=0, description="Charged once per answered call")
    increments: str = Field("60/60", pattern=r"^[1-9][0-9]*/[1-9][0-9]*$",
                            description="first/next billing increments in seconds: 60/60, 1/1, 60/1")
    valid_from: date | None = None
    valid_to: date | None = None


class TenantConfig(BaseModel):
    """How to recognise a tenant's calls and price them."""

    trunks: list[str] = Field(default_factory=list, description="The tenant's PBX/SIP trunks (e.g. CUST-ACME)")
    numbers: list[str] = Field(default_factory=list,
                               description="DIDs in E.164; an entry ending in '*' is a block prefix")
    home_region: str | None = Field(None, description="ISO region; default Settings.home_region")
    home_area: str | None = Field(None, description="Area code that counts as local; default: the first DID's")
    queue_extensions: list[str] = Field(default_factory=list, description="Queue/IVR extensions: an incoming call "
                                        "that ends there was answered by the machine, not a person → missed")
    callback_numbers: list[str] = Field(default_factory=list, description="Caller IDs the web-callback widget presents")
    channels: int = Field(30, ge=1, description="Trunk channels the tenant pays for (Erlang B)")
    tariffs: list[Tariff] = Field(default_factory=list)


class CallTypeRules(BaseModel):
    """Defaults of the call-type and callback rules; each view call may override them."""

    unique_days: int = Field(30, ge=0, description="A caller is unique if not heard from for this many days")
    target_min_s: int = Field(60, ge=0, description="Answered calls at least this long are target calls")
    sales_cycle_days: int = Field(30, ge=0, description="Unique-target: first target call of a caller in this window")
    spam_calls_per_day: int = Field(10, ge=2, description="A caller this often in a day with short calls is spam")
    spam_max_talk_s: int = Field(10, ge=0, description="…counting calls that talked at most this long")
    callback_hours: int = Field(24, ge=1, description="A missed call is called back within this many hours")
    target_gos: float = Field(0.01, gt=0, lt=1, description="Grade of service (blocking) channels are sized for")


class AlarmRules(BaseModel):
    """When a NOC alarm opens (see incidents/alarms.py): trunk congestion, long calls, premium-prefix surges."""

    utilisation_pct: float = Field(80, gt=0, le=100, description="Trunk group busy at or above this share of its "
                                   "channels (peak of a minute)…")
    utilisation_minutes: int = Field(5, ge=1, description="…for this many minutes in a row opens an alarm")
    long_call_s: int = Field(7200, ge=60, description="A call up this long opens an alarm (stuck channel or fraud)")
    premium_prefixes: list[str] = Field(default_factory=list, description="E.164 prefixes (digits, no '+') of "
                                        "premium or high-cost destinations watched for surges (IRSF)")
    premium_window_minutes: int = Field(10, ge=1, description="Calls to a prefix are counted over this window…")
    premium_baseline_hours: int = Field(24, ge=1, description="…against their rate over this many hours before it")
    premium_factor: float = Field(3.0, gt=1, description="A window this many times its baseline is a surge…")
    premium_min_calls: int = Field(10, ge=1, description="…with at least this many calls")
    quiet_minutes: int = Field(5, ge=1, description="Minutes without a breach before an alarm resolves")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDRFLOW_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(Path(".cdrflow"), description="Local state: embedded ClickHouse, checkpoints, logs")
    kafka_bootstrap: str | None = Field(None, description="Kafka bootstrap servers; unset = start a local Tansu broker")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = Field(None, description="Kafka SASL password (from a Secret, not the TOML)")
    kafka_ssl_ca_file: Path | None = Field(None, description="CA bundle for SSL/SASL_SSL; unset = system CAs")
    clickhouse_url: str | None = Field(
        None, description="http(s)://host:8123 or chdb:///abs/path; unset = embedded chdb in data_dir")
    clickhouse_database: str = "cdrflow"
    clickhouse_user: str | None = Field(None, description="ClickHouse user; overrides one in clickhouse_url")
    clickhouse_password: SecretStr | None = Field(None, description="ClickHouse password (from a Secret, not the TOML)")
    clickhouse_cluster: str | None = Field(None, description="Cluster name: migrations create Replicated* tables and "
                                           "Distributed tables ON CLUSTER; unset = single node")

    topic_cdr_batches: str = "cdr.batches"
    topic_dead_letter: str = "cdr.deadletter"
    partitions: int = Field(4, ge=1, description="Partitions of the CDR topic: the ceiling on parallel workers")

    home_region: str = Field("US", description="ISO region for numbers received in national format")
    source_timezone: str = Field("UTC", description="Time zone of switch-local timestamps (e.g. Asterisk Master.csv)")
    asterisk_custom_columns: list[str] = Field(
        default_factory=lambda: list(ASTERISK_CUSTOM_SAMPLE_COLUMNS),
        description="Column order of Asterisk cdr_custom files (format asterisk_custom): the CDR variables of "
                    "the cdr_custom.conf mapping or its `fields` list, e.g. [\"clid\", \"src\", …]")
    # an advanced cdr_custom mapping's separator_character and quote_character (a doubled quote
    # character stands for one, cdr_custom's default quote_escape_character)
    asterisk_custom_separator: str = Field(",", min_length=1, max_length=1,
                                           description="Field separator of Asterisk cdr_custom files (its "
                                                       "separator_character), e.g. \";\" or \"|\"")
    asterisk_custom_quote: str = Field('"', min_length=1, max_length=1,
                                       description="Quote character of Asterisk cdr_custom files (quote_character)")
    asterisk_export_columns: list[str] = Field(
        default_factory=lambda: list(ASTERISK_CDRDB_COLUMNS),
        description="Columns of a headerless Asterisk CDR database export (format asterisk_export), in order; "
                    "a file with a header row names its own")
    asterisk_export_extra_columns: dict[str, str] = Field(
        default_factory=dict, description="Site columns of an Asterisk CDR export → CDR field, e.g. "
                                          "{\"trunk\": \"egress_trunk\", \"tenant\": \"tenant\"}; others are ignored")
    asterisk_export_date_order: Literal["dmy", "mdy"] = Field(
        "dmy", description="Order of a slashed date in an Asterisk CDR export (1/9/2017 16:33:01): day first "
                           "(dmy) or month first (mdy); YYYY-MM-DD dates are always read as such")
    layout: Path | None = Field(
        None, description="Declared layout of a delimited CDR export (format layout): a TOML file, or the name of "
                          "a layout shipped in producers/layouts/ (docs/formats.md)")
    cucm_release: Literal["auto", "10", "11", "12", "12.5", "14", "15"] = Field(
        "auto", description="CUCM release of CDR files without their header rows (format cisco_cucm); auto: "
                            "told by the column count, 129 (10.x-12.0) or 133 (12.5-15)")
    interconnects: dict[str, str] = Field(default_factory=lambda: dict(DEMO_INTERCONNECTS),
                                          description="trunk (or 'source/trunk') → interconnect")
    # ≤ 10000: TTL arithmetic is in DateTime, which ends in 2106 and wraps silently past it.
    retention_days: int = Field(400, ge=1, le=10_000, description="TTL of raw CDRs in ClickHouse, days")
    simulator_spare_numbers: list[str] = Field(
        default_factory=list, description="E.164 numbers nobody owns that simulated callers keep dialling "
                                          "(default: 500 random ones)")
    demo_world: bool = Field(False, description="Set by the shipped demo world (infra/demo_world.toml) only")
    simulator_diurnal: bool = Field(True, description="The simulator's rate follows a day's curve (false: the "
                                    "constant --rate, the same figures at any hour)")

    topic_partials: str = "interconnect.partials"
    topic_incidents: str = "interconnect.incidents"
    topic_alarms: str = "noc.alarms"
    notify: NotifySettings = Field(default_factory=NotifySettings, description="Webhook and email of incident and "
                                   "alarm events (`cdrflow notify`)")
    detection: Thresholds = Field(default_factory=Thresholds, description="Incident thresholds (defaults)")
    detection_overrides: dict[str, dict] = Field(default_factory=dict,
                                                 description="interconnect → thresholds that differ from `detection`")
    detection_lateness_s: float = Field(10, ge=0, description="How long after a minute ends its last CDRs may arrive "
                                        "(partition skew, switch write delay) before it is judged")
    baseline_days: int = Field(7, ge=1, le=60, description="Same hours of this many previous days form the baseline")

    # Number quarantine: a disconnected number is released with fewer than max_calls calls in the
    # last window_days, after at least min_days in quarantine.
    quarantine_max_calls: int = Field(3, ge=1, description="Release only with fewer calls than this")
    quarantine_window_days: int = Field(90, ge=1, description="Days of calls that decide a release")
    quarantine_min_days: int = Field(90, ge=0, description="Shortest quarantine before a release")
    # Longest time between an insert reading the server clock and its rows becoming visible: rows
    # inserted that long before a checkpoint was taken count as possibly missing from it. At most
    # an hour: the arrivals view (migrations/0011) records closed-day hits from an hour before midnight.
    quarantine_checkpoint_commit_lag_s: int = Field(3600, ge=0, le=3600,
                                                    description="Commit lag a quarantine checkpoint allows for")
    topic_disconnected_hits: str = "number.hits.disconnected"
    disconnected_hit_interval_s: float = Field(3600, gt=0, description="At most one ops event per number per interval")

    @model_validator(mode="after")
    def _overrides_are_valid(self) -> "Settings":
        separators = (self.asterisk_custom_separator, self.asterisk_custom_quote)
        if separators[0] == separators[1] or any(ch in "\r\n" for ch in separators):
            raise ValueError("asterisk_custom_separator and asterisk_custom_quote must differ and not be line endings")
        for interconnect in self.detection_overrides:
            self.thresholds(interconnect)   # a bad override fails at start-up, not at detection
        return self

    def thresholds(self, interconnect: str) -> Thresholds:
        override = self.detection_overrides.get(interconnect)
        return Thresholds.model_validate({**self.detection.model_dump(), **override}) if override else self.detection

    # NOC: calls in progress, trunk capacity and alarms (incidents/alarms.py, stream/alarms_agent.py)
    trunk_channels: dict[str, int] = Field(default_factory=dict, description="trunk group → channels it has "
                                           "(utilisation, Erlang B blocking, congestion alarms)")
    longest_call_s: int = Field(43200, ge=60, description="A START without its STOP after this long is closed as "
                                "stale (default: Kamailio's dialog timeout, 12 h)")
    alarms: AlarmRules = Field(default_factory=AlarmRules, description="NOC alarm rules")
    alarms_judge_every_s: float = Field(10, gt=0, description="How often (wall time) alarms are judged up to the "
                                        "event time the worker has stored")

    tenants: dict[str, TenantConfig] = Field(default_factory=dict, description="tenant id → trunks, DIDs, tariffs")
    call_types: CallTypeRules = Field(default_factory=CallTypeRules, description="Tenant view rules (defaults)")

    batch_max_cdrs: int = Field(500, ge=1, description="CDRs per Kafka message (batch envelope)")
    producer_linger_ms: int = 20
    dbf_settle_s: float = Field(60, ge=0, description="How long a DBF row whose tool fills a field in later (WinTariff "
                                "CALLTYPE) is read again before it is published with what it has")
    syslog_flush_s: float = Field(0.5, gt=0, description="Longest a syslog message received waits before it is "
                                  "published (the listener also flushes on shutdown)")
    worker_take: int = Field(200, ge=1, description="Kafka messages a worker inserts at once")
    worker_take_mb: float = Field(28, gt=0, description="Largest take in megabytes of envelopes: a take of bigger "
                                  "envelopes (busy switches' full batches) goes through the worker in equal parts, "
                                  "so the CDRs it holds in flight stay bounded")
    worker_within_s: float = Field(0.5, gt=0, description="Longest wait before inserting a partial batch")
    worker_web_port: int = Field(6066, description="Faust web port; also serves queries in embedded mode on a "
                                 "loopback bind")
    worker_web_bind: str = Field("127.0.0.1", description="Address the web port listens on (0.0.0.0 in a pod, "
                                 "so probes and metrics scrapes reach it; /query is then off)")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CDRFLOW_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        elif not configured_by_user(getattr(init_settings, "init_kwargs", {})):
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=DEMO_WORLD))
        return tuple(sources)

    @cached_property
    def resolved_data_dir(self) -> Path:
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def embedded_broker(self) -> bool:
        """The local Tansu broker of `cdrflow up` / `cdrflow broker`: it keeps messages in memory only."""
        return self.kafka_bootstrap is None

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse_url is None or self.clickhouse_url.startswith("chdb:")

    @property
    def clickhouse_dsn(self) -> str:
        return self.clickhouse_url or f"chdb://{self.resolved_data_dir / 'clickhouse'}"

"""The Function's settings: app settings (environment variables) read and checked once, at start.

Every problem is reported together in one :class:`~audit_function.errors.ConfigError` whose
message names each offending setting, e.g. ``AUDIT_FAIL_ON: 'critical' is not one of ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

import audit_function
from audit_function.errors import ConfigError

DEFAULT_SCHEDULE = "0 0 6 * * Mon"  # NCRONTAB, six fields, UTC: Mondays 06:00
DEFAULT_CONTAINER = "kv-audit-reports"
DEFAULT_FORMATS = ("json", "xlsx")
#: Live collection stops after this long and reports what it could not read as gaps, well before
#: host.json's functionTimeout (01:00:00) would kill the run and leave no report at all.
DEFAULT_COLLECT_BUDGET_MINUTES = 40
from audit_function.vocabulary import SEVERITIES  # noqa: E402
SOURCES = ("live", "demo", "snapshot")

#: App setting names (the infra and local.settings.example.json use exactly these).
SCHEDULE = "AUDIT_SCHEDULE"
SOURCE = "AUDIT_SOURCE"
SNAPSHOT_PATH = "AUDIT_SNAPSHOT_PATH"
MANAGEMENT_GROUPS = "AUDIT_MANAGEMENT_GROUPS"
SUBSCRIPTIONS = "AUDIT_SUBSCRIPTIONS"
FORMATS = "AUDIT_FORMATS"
FAIL_ON = "AUDIT_FAIL_ON"
FAIL_ON_INCOMPLETE = "AUDIT_FAIL_ON_INCOMPLETE"
CONFIG_PATH = "AUDIT_CONFIG_PATH"
TICKETS = "AUDIT_TICKETS"
COLLECT_BUDGET = "AUDIT_COLLECT_BUDGET_MINUTES"
DEEP = "AUDIT_DEEP"     # deep collection (keys, secrets, diagnostic settings, Defender plans); default on
CONTAINER = "AUDIT_REPORT_CONTAINER"
STORAGE_ACCOUNT_URL = "AUDIT_STORAGE_ACCOUNT_URL"
STORAGE_CONNECTION_STRING = "AUDIT_STORAGE_CONNECTION_STRING"
#: Sentinel / Log Analytics (Logs Ingestion API); off unless AUDIT_LOGS_ENDPOINT is set
LOGS_ENDPOINT = "AUDIT_LOGS_ENDPOINT"
LOGS_RULE_ID = "AUDIT_LOGS_RULE_ID"
LOGS_STREAM_FINDINGS = "AUDIT_LOGS_STREAM_FINDINGS"
LOGS_STREAM_VAULTS = "AUDIT_LOGS_STREAM_VAULTS"
LOGS_STREAM_RUNS = "AUDIT_LOGS_STREAM_RUNS"
LOGS_STREAMS = {"findings": LOGS_STREAM_FINDINGS, "vaults": LOGS_STREAM_VAULTS, "runs": LOGS_STREAM_RUNS}
DEFAULT_LOGS_STREAMS = {"findings": "Custom-KvAuditFindings_CL", "vaults": "Custom-KvAuditVaults_CL",
                        "runs": "Custom-KvAuditRuns_CL"}

#: Relative paths in settings are taken from the app root (where function_app.py lives).
APP_ROOT = Path(audit_function.__file__).resolve().parent.parent

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MG_ID = re.compile(r"^[A-Za-z0-9_().-]{1,90}$")
_CONTAINER = re.compile(r"^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_FORMAT = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_DCR_ID = re.compile(r"^dcr-[0-9a-fA-F]{32}$")
_STREAM = re.compile(r"^Custom-[A-Za-z0-9_]{1,60}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class FunctionSettings:
    """What one timer run needs to know, typed and validated."""

    storage_account_url: str | None = None
    storage_connection_string: str | None = field(default=None, repr=False)  # may hold a key
    container: str = DEFAULT_CONTAINER
    source: str = "live"
    snapshot_path: Path | None = None
    management_groups: tuple[str, ...] = ()
    subscriptions: tuple[str, ...] = ()
    formats: tuple[str, ...] = DEFAULT_FORMATS
    fail_on: str | None = None
    fail_on_incomplete: bool = True
    config_path: Path | None = None
    tickets: bool = False
    collect_budget_minutes: int = DEFAULT_COLLECT_BUDGET_MINUTES
    schedule: str = DEFAULT_SCHEDULE
    deep: bool = True
    logs: "LogsSettings | None" = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, app_root: Path = APP_ROOT) -> "FunctionSettings":
        """Read and check every setting; raise one ConfigError naming each bad one."""
        reader = _Reader(environ, app_root)
        values = {
            "schedule": reader.schedule(),
            "source": reader.choice(SOURCE, SOURCES, default="live"),
            "management_groups": reader.id_list(MANAGEMENT_GROUPS, _MG_ID, "a management group id"),
            "subscriptions": reader.id_list(SUBSCRIPTIONS, _GUID, "a subscription id (GUID)"),
            "formats": reader.formats(),
            "fail_on": reader.choice(FAIL_ON, SEVERITIES, default=None, none_words=("", "none")),
            "fail_on_incomplete": reader.flag(FAIL_ON_INCOMPLETE, default=True),
            "config_path": reader.path(CONFIG_PATH, want_dir=False),
            "tickets": reader.flag(TICKETS, default=False),
            "collect_budget_minutes": reader.integer(COLLECT_BUDGET, DEFAULT_COLLECT_BUDGET_MINUTES, 1, 24 * 60),
            "container": reader.container(),
            "deep": reader.flag(DEEP, default=True),
        }
        values["snapshot_path"] = reader.snapshot(values["source"])
        if values["tickets"] and not reader.raw(CONFIG_PATH):
            reader.bad(TICKETS, f"true needs {CONFIG_PATH}: the ticket settings are the config file's tickets section")
        values["storage_account_url"], values["storage_connection_string"] = reader.storage()
        values["logs"] = reader.logs()
        if reader.problems:
            lines = "\n".join(f"  {p}" for p in reader.problems)
            raise ConfigError(f"invalid Function app settings:\n{lines}")
        return cls(**values)

    @property
    def needs_credential(self) -> bool:
        """True when anything the run talks to takes a token (live collection, Blob, Log Analytics)."""
        return self.source == "live" or self.uses_identity or self.logs is not None

    @property
    def uses_identity(self) -> bool:
        """True when Blob Storage is reached with a token credential (managed identity)."""
        return self.storage_connection_string is None

    def scope(self) -> Any:
        """The live collection scope (``audit_function.collect.LiveScope``)."""
        from audit_function.collect import LiveScope

        return LiveScope(management_groups=self.management_groups, subscriptions=self.subscriptions)

    def audit_options(self, *, live: dict | None = None) -> Any:
        """``audit_function.pipeline.run.AuditOptions`` for this run; ``live`` carries e.g. the credential."""
        from audit_function.pipeline.run import AuditOptions

        return AuditOptions(
            source=self.source,
            snapshot=self.snapshot_path,
            scope=self.scope() if self.source == "live" else None,
            formats=self.formats,
            fail_on=self.fail_on,
            config_path=self.config_path,
            live={**({"deep": self.deep} if self.source == "live" else {}), **dict(live or {})},
        )

    def describe(self) -> dict[str, Any]:
        """Safe to log: no connection string."""
        return {
            "source": self.source,
            "management_groups": ",".join(self.management_groups) or "-",
            "subscriptions": len(self.subscriptions),
            "formats": ",".join(self.formats),
            "fail_on": self.fail_on or "-",
            "fail_on_incomplete": self.fail_on_incomplete,
            "tickets": self.tickets,
            "collect_budget_min": self.collect_budget_minutes,
            "deep": self.deep,
            "container": self.container,
            "storage": self.storage_account_url or "connection-string",
            "logs": self.logs.endpoint if self.logs else "-",
        }


@dataclass(frozen=True)
class LogsSettings:
    """Where the Sentinel sink sends rows: data collection endpoint, rule immutable id, stream names."""

    endpoint: str
    rule_id: str
    streams: dict = field(default_factory=lambda: dict(DEFAULT_LOGS_STREAMS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, required: bool = False) -> "LogsSettings | None":
        """The AUDIT_LOGS_* settings alone (the CLI's ``--sink sentinel`` reads them too)."""
        reader = _Reader(environ, APP_ROOT)
        logs = reader.logs(required=required)
        if reader.problems:
            lines = "\n".join(f"  {p}" for p in reader.problems)
            raise ConfigError(f"invalid Log Analytics settings:\n{lines}")
        return logs

    def sink(self, credential: Any, **client_kwargs: Any) -> Any:
        from audit_function.sinks.logs import SentinelSink

        return SentinelSink.create(self.endpoint, self.rule_id, credential, self.streams, **client_kwargs)


class _Reader:
    """Collects problems instead of stopping at the first one."""

    def __init__(self, environ: Mapping[str, str], app_root: Path) -> None:
        self.environ = environ
        self.app_root = app_root
        self.problems: list[str] = []

    def raw(self, name: str) -> str:
        return (self.environ.get(name) or "").strip()

    def bad(self, name: str, message: str) -> None:
        self.problems.append(f"{name}: {message}")

    def schedule(self) -> str:
        value = self.raw(SCHEDULE) or DEFAULT_SCHEDULE
        if len(value.split()) != 6:
            self.bad(SCHEDULE, f"{value!r} is not a six-field NCRONTAB expression "
                               f"(second minute hour day month day-of-week, e.g. {DEFAULT_SCHEDULE!r})")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], *, default: str | None,
               none_words: tuple[str, ...] = ()) -> str | None:
        value = self.raw(name).lower()
        if value in none_words:
            return None
        if not value:
            return default
        if value not in allowed:
            extra = " (or empty for none)" if none_words else ""
            self.bad(name, f"{value!r} is not one of {', '.join(allowed)}{extra}")
            return default
        return value

    def flag(self, name: str, *, default: bool) -> bool:
        value = self.raw(name).lower()
        if not value:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.bad(name, f"{value!r} is not a boolean (true/false)")
        return default

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.raw(name)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.bad(name, f"{value!r} is not a whole number from {low} to {high}")
            return default
        return number

    def id_list(self, name: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
        items = [x for x in re.split(r"[,;\s]+", self.raw(name)) if x]
        for item in items:
            if not pattern.match(item):
                self.bad(name, f"{item!r} is not {what}")
        return tuple(dict.fromkeys(items))

    def formats(self) -> tuple[str, ...]:
        value = self.raw(FORMATS)
        if not value:
            return DEFAULT_FORMATS
        items = tuple(dict.fromkeys(x.lower() for x in re.split(r"[,;\s]+", value) if x))
        known = _known_formats()
        for item in items:
            if not _FORMAT.match(item) or (known is not None and item not in known):
                choices = f" (known: {', '.join(sorted(known))})" if known else ""
                self.bad(FORMATS, f"{item!r} is not a report format{choices}")
        if "json" not in items:
            self.bad(FORMATS, "must include json: it is the machine-readable report the next run diffs against")
        return items

    def path(self, name: str, *, want_dir: bool) -> Path | None:
        value = self.raw(name)
        if not value:
            return None
        path = Path(value)
        if not path.is_absolute():
            path = self.app_root / path
        if want_dir and not path.is_dir():
            self.bad(name, f"{value!r} is not a folder (looked at {path})")
        elif not want_dir and not path.is_file():
            self.bad(name, f"{value!r} is not a file (looked at {path})")
        return path

    def snapshot(self, source: str | None) -> Path | None:
        if source == "snapshot":
            if not self.raw(SNAPSHOT_PATH):
                self.bad(SNAPSHOT_PATH, f"required when {SOURCE}=snapshot")
                return None
            return self.path(SNAPSHOT_PATH, want_dir=True)
        if self.raw(SNAPSHOT_PATH):
            self.bad(SNAPSHOT_PATH, f"set, but {SOURCE} is {source!r}; set {SOURCE}=snapshot or remove it")
        return None

    def container(self) -> str:
        value = self.raw(CONTAINER) or DEFAULT_CONTAINER
        if not _CONTAINER.match(value):
            self.bad(CONTAINER, f"{value!r} is not a valid container name "
                                "(3-63 lower-case letters, digits and single hyphens)")
        return value

    def storage(self) -> tuple[str | None, str | None]:
        url, conn = self.raw(STORAGE_ACCOUNT_URL), self.raw(STORAGE_CONNECTION_STRING)
        if url and conn:
            self.bad(STORAGE_ACCOUNT_URL, f"set together with {STORAGE_CONNECTION_STRING}; set only one "
                                          "(account URL + managed identity in Azure, connection string locally)")
            return None, None
        if not url and not conn:
            self.bad(STORAGE_ACCOUNT_URL, f"not set (nor {STORAGE_CONNECTION_STRING}): where should reports go? "
                                          "e.g. https://<account>.blob.core.windows.net, or "
                                          f"{STORAGE_CONNECTION_STRING}=UseDevelopmentStorage=true for Azurite")
            return None, None
        if url:
            parsed = urlparse(url)
            if parsed.scheme != "https" or not parsed.hostname or parsed.path not in ("", "/"):
                self.bad(STORAGE_ACCOUNT_URL, f"{url!r} is not a blob service URL like https://<account>.blob.core.windows.net "
                                              "(https is required for token authentication)")
            return url.rstrip("/"), None
        return None, conn

    def logs(self, *, required: bool = False) -> LogsSettings | None:
        endpoint, rule_id = self.raw(LOGS_ENDPOINT), self.raw(LOGS_RULE_ID)
        if not endpoint:
            if required:
                self.bad(LOGS_ENDPOINT, "not set: the data collection endpoint's logs ingestion URL, "
                                        "e.g. https://<dce>.<region>-1.ingest.monitor.azure.com (infra output logsEndpoint)")
            elif rule_id:
                self.bad(LOGS_RULE_ID, f"set, but {LOGS_ENDPOINT} is not: set both to send findings to Log Analytics")
            return None
        parsed = urlparse(endpoint)
        if parsed.scheme != "https" or not parsed.hostname or parsed.path not in ("", "/"):
            self.bad(LOGS_ENDPOINT, f"{endpoint!r} is not an https logs ingestion URL like "
                                    "https://<dce>.<region>-1.ingest.monitor.azure.com")
        if not _DCR_ID.match(rule_id):
            self.bad(LOGS_RULE_ID, f"{rule_id!r} is not a data collection rule immutable id (dcr-<32 hex digits>; "
                                   "infra output logsRuleId)" if rule_id else
                                   f"required with {LOGS_ENDPOINT}: the data collection rule's immutable id (dcr-...)")
        streams = {}
        for key, name in LOGS_STREAMS.items():
            value = self.raw(name) or DEFAULT_LOGS_STREAMS[key]
            if not _STREAM.match(value):
                self.bad(name, f"{value!r} is not a custom stream name (Custom-<name>)")
            streams[key] = value
        return LogsSettings(endpoint.rstrip("/"), rule_id, streams)


def _known_formats() -> frozenset[str] | None:
    """Format names the writers support (``reports.FORMATS``), or None if that cannot be imported."""
    try:
        from reports import FORMATS as known
    except ImportError:
        return None
    return frozenset(known)

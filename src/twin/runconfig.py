"""``--config twin.toml``: the options of ``twin run`` and ``twin monitor`` in one file.

The file holds what the command-line options hold, one TOML key per option, grouped
in sections (:data:`TABLE` is the whole mapping). A value is validated by the very
``argparse`` action of its option (its ``type`` function and its ``choices``), so a
value the command line refuses the file refuses too, with the same words, plus the
file, the line and the key. Options given on the command line override the file.

Secrets never go in the file (it is copied, shared and committed): a token is named
by the path of a file that holds it (``token_file``) or the name of an environment
variable (``token_env``); a key that looks like a secret is refused.

One file can serve both commands: keys of the other command (``[twin] speed`` for
``twin monitor``, ``[monitor] registry`` for ``twin run``) are validated and ignored.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import textwrap
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.config import line_of_key
from twin.errors import ConfigError

__all__ = [
    "EXCLUDED",
    "SECTIONS",
    "TABLE",
    "Key",
    "RunConfig",
    "example_text",
    "load_run_config",
    "looks_like_run_config",
    "parse_run_config",
]


@dataclass(frozen=True)
class Key:
    """One option of the command line as a key of the file.

    ``dest`` is the argparse destination (``spool_max_mb``), ``section`` and ``key``
    where it lives in the file (``[spool] max_mb``). ``invert`` maps a negative flag to
    a positive key (``--no-gzip`` is ``gzip = false``). ``example`` is the value the
    example file shows; ``active`` False writes it commented out (an alternative, or
    a value that would change what the command does by default).
    """

    dest: str
    section: str
    key: str
    example: Any
    active: bool = True
    invert: bool = False

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"


# Sections in the order the example file shows them, with what each one is for.
SECTIONS: dict[str, str] = {
    "twin": "twin run only: the simulated site",
    "monitor": "twin monitor only: the real site's point registry",
    "collect": "polling",
    "alarms": "alarm rules",
    "console": "what the command prints",
    "sink": "InfluxDB (v2 write API, or 1.x); secrets: token_file or token_env only",
    "spool": "the on-disk spool (SQLite) in front of the database, or the store itself",
    "security": "OPC UA session security and the SNMP credentials file (twin monitor); "
    "the OPC UA password comes from $OPCUA_PASSWORD, never the file",
    "publish": "what twin run serves to your own clients",
    "metrics": "the Prometheus / OpenMetrics endpoint (docs/prometheus.md)",
    "mqtt": "Sparkplug B to an MQTT broker (twin fleet reads it); user and password "
    "from credentials, a file, never here",
    "shard": "twin monitor only: one of N collectors sharing the registry",
    "notify": "alarm notifications",
}

TABLE: tuple[Key, ...] = (
    Key("site", "twin", "site", "aidc-10mw"),
    Key("speed", "twin", "speed", 1.0),
    Key("scenario", "twin", "scenario", "cdu-pump-trip", active=False),
    Key("protocols", "twin", "protocols", "bacnet,snmp,modbus", active=False),
    Key("twin", "twin", "shadow", True, active=False),
    Key("twin_learn", "twin", "shadow_learn_s", 600.0, active=False),
    Key("twin_persist", "twin", "shadow_persist_s", 300.0, active=False),
    Key("registry", "monitor", "registry", "configs/points/aidc-10mw.csv"),
    Key("twin_site_name", "monitor", "twin", "aidc-10mw", active=False),
    Key("prefer", "monitor", "prefer", "modbus"),
    Key("carbon", "monitor", "carbon", 0.5703),
    Key("no_store", "monitor", "store", True, invert=True),
    Key("interval", "collect", "interval", 1.0),
    Key("duration", "collect", "duration", 3600.0, active=False),
    Key("opcua_mode", "collect", "opcua_mode", "subscribe"),
    Key("alarms", "alarms", "rules", "configs/alarms/aidc-10mw.toml", active=False),
    Key("headless", "console", "headless", False),
    Key("json", "console", "json", False),
    Key("status_every", "console", "status_every", 5.0),
    Key("log", "console", "log", "twin.log", active=False),
    Key("influx", "sink", "influx", "http://127.0.0.1:8086", active=False),
    Key("org", "sink", "org", "my-org", active=False),
    Key("bucket", "sink", "bucket", "twin", active=False),
    Key("influx_token_file", "sink", "token_file", "/run/secrets/influx-token", active=False),
    Key("influx_token_env", "sink", "token_env", "INFLUX_TOKEN", active=False),
    Key("influx_v1", "sink", "influx_v1", "http://127.0.0.1:8086", active=False),
    Key("db", "sink", "db", "twin", active=False),
    Key("rp", "sink", "rp", "autogen", active=False),
    Key("batch_size", "sink", "batch_size", 5000),
    Key("no_gzip", "sink", "gzip", True, invert=True),
    Key("flush_interval", "sink", "flush_interval", 1.0),
    Key("spool", "spool", "dir", "/var/lib/twin/spool", active=False),
    Key("no_spool", "spool", "enabled", True, invert=True),
    Key("spool_fsync", "spool", "fsync", "full"),
    Key("spool_max_mb", "spool", "max_mb", 1024.0),
    Key("spool_on_full", "spool", "on_full", "reject"),
    Key(
        "opcua_security",
        "security",
        "opcua",
        "Basic256Sha256,SignAndEncrypt,cert.pem,key.pem",
        active=False,
    ),
    Key("opcua_user", "security", "opcua_user", "operator", active=False),
    Key("snmp_credentials", "security", "snmp", "/etc/twin/snmp.toml", active=False),
    Key("opcua", "publish", "opcua_port", 4840, active=False),
    Key("metrics", "metrics", "listen", "127.0.0.1:9464", active=False),
    Key("publish", "mqtt", "url", "mqtt://127.0.0.1:1883", active=False),
    Key("publish_credentials", "mqtt", "credentials", "/run/secrets/mqtt", active=False),
    Key("publish_ca", "mqtt", "ca", "/etc/ssl/certs/broker-ca.pem", active=False),
    Key("publish_keepalive", "mqtt", "keepalive", 10),
    Key("shard", "shard", "member", "0/3", active=False),
    Key("collector_name", "shard", "collector_name", "collector-a", active=False),
    # `--notify FILE` (issue 17 item 4): in the file only where the option exists.
    Key("notify", "notify", "file", "configs/notify.toml", active=False),
)

# Options of run and monitor that have no key, and why.
EXCLUDED: dict[str, str] = {
    "help": "prints the help, not a setting",
    "config": "the file itself",
    "influx_token": "a trap that refuses a token on the command line; the file takes "
    "token_file or token_env instead",
}

# Keys that would put a secret in the file, and where the secret goes instead.
_SECRETS: dict[str, str] = {
    "token": "use token_file (a path to a file holding the token) or token_env "
    "(the name of an environment variable)",
    "influx_token": "use token_file (a path to a file holding the token) or token_env "
    "(the name of an environment variable)",
    "password": "passwords come from the environment ($INFLUX_PASSWORD, $OPCUA_PASSWORD)",
    "opcua_password": "the OPC UA password comes from $OPCUA_PASSWORD",
    "secret": "use a path to a file holding it, or an environment variable name",
}

# Options whose values are paths, or names that may be paths (site, scenario):
# relative paths in the file are taken from the file's folder, as Prometheus does,
# so a config file and what it names can move together.
_MAYBE_PATH = ("site", "scenario")


@dataclass
class RunConfig:
    """A validated config file: option values by argparse dest, and where each was set."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    where: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    def for_parser(self, parser: argparse.ArgumentParser) -> dict[str, Any]:
        """The values of the options ``parser`` has (the other command's are ignored)."""
        dests = {action.dest for action in parser._actions}
        return {dest: value for dest, value in self.values.items() if dest in dests}


def _actions(parsers: Iterable[argparse.ArgumentParser]) -> dict[str, argparse.Action]:
    found: dict[str, argparse.Action] = {}
    for parser in parsers:
        for action in parser._actions:
            found.setdefault(action.dest, action)
    return found


def active_table(parsers: Iterable[argparse.ArgumentParser]) -> list[Key]:
    """The keys whose option exists in ``parsers`` (``[notify] file`` needs ``--notify``)."""
    dests = _actions(parsers)
    return [entry for entry in TABLE if entry.dest in dests]


def _option_name(action: argparse.Action) -> str:
    return action.option_strings[0] if action.option_strings else action.dest


def _convert(entry: Key, action: argparse.Action, raw: Any, folder: Path) -> Any:
    """Validate one TOML value with the option's own action; raise ValueError(message)."""
    option = _option_name(action)
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(raw, bool):
            raise ValueError(f"expected true or false, got {raw!r}")
        return (not raw) if entry.invert else raw
    kind = action.type
    if kind is int or getattr(kind, "__name__", "") == "port_number":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"expected a whole number, got {raw!r}")
    elif getattr(kind, "__name__", "") in ("positive_float", "finite_float"):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError(f"expected a number, got {raw!r}")
    elif not isinstance(raw, str):
        raise ValueError(f"expected a string, got {raw!r}")
    try:
        value = kind(str(raw)) if kind is not None else raw
    except (argparse.ArgumentTypeError, ValueError, TypeError) as error:
        raise ValueError(f"{error} (as {option})") from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(repr(c) for c in action.choices)
        raise ValueError(f"expected one of {choices}, got {raw!r} (as {option})")
    if kind is Path or (entry.dest in _MAYBE_PATH and ("/" in raw or raw.endswith(".toml"))):
        path = Path(raw).expanduser()
        resolved = path if path.is_absolute() else folder / path
        value = resolved if kind is Path else str(resolved)
    return value


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def parse_run_config(
    path: Path, text: str, parsers: Iterable[argparse.ArgumentParser]
) -> RunConfig:
    """Validate the text of a config file against the options of ``parsers``.

    Raises
    ------
    ConfigError
        Naming ``path``, the line and the key: invalid TOML, an unknown key (with the
        closest valid one), a secret, a value the option refuses, two keys whose options
        exclude each other.
    """
    parsers = list(parsers)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        line = int(match.group(1)) if match else None
        raise ConfigError(path, f"invalid TOML: {message}", line=line) from None
    actions = _actions(parsers)
    table = active_table(parsers)
    by_key = {(entry.section, entry.key): entry for entry in table}
    sections = {entry.section for entry in table}
    dotted = [entry.dotted for entry in table]
    folder = path.parent
    config = RunConfig(path)

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(path, message, key=key, line=line_of_key(text, key))

    for name, body in data.items():
        if name in _SECRETS:
            raise fail(name, f"secrets never go in this file: {_SECRETS[name]}")
        if not isinstance(body, dict):
            homes = [d for d in dotted if d.split(".", 1)[1] == name]
            hint = (
                f"; it belongs in a section: [{homes[0].split('.')[0]}] {name}"
                if homes
                else _suggest(name, [*dotted, *sections])
            )
            raise fail(name, f"unknown key{hint}")
        if name not in sections:
            raise fail(name, f"unknown section [{name}]{_suggest(name, sections)}")
        for key, raw in body.items():
            where = f"{name}.{key}"
            if key in _SECRETS:
                raise fail(where, f"secrets never go in this file: {_SECRETS[key]}")
            entry = by_key.get((name, key))
            if entry is None:
                in_section = [k for (s, k) in by_key if s == name]
                hint = _suggest(key, in_section) or _suggest(where, dotted)
                raise fail(where, f"unknown key{hint}")
            try:
                value = _convert(entry, actions[entry.dest], raw, folder)
            except ValueError as error:
                raise fail(where, str(error)) from None
            config.values[entry.dest] = value
            config.where[entry.dest] = (where, line_of_key(text, where))
    _check_exclusive(config, parsers, fail)
    return config


def _check_exclusive(config: RunConfig, parsers: list[argparse.ArgumentParser], fail) -> None:  # type: ignore[no-untyped-def]
    """Keys whose options argparse would refuse together (``--influx`` with ``--influx-v1``)."""
    for parser in parsers:
        for group in parser._mutually_exclusive_groups:
            given = [
                action.dest
                for action in group._group_actions
                if config.values.get(action.dest) not in (None, False)
            ]
            if len(given) > 1:
                first, second = (config.where[dest][0] for dest in given[:2])
                raise fail(second, f"not allowed with '{first}' (one or the other)")


def load_run_config(path: Path, parsers: Iterable[argparse.ArgumentParser]) -> RunConfig:
    """Read and validate a config file (see :func:`parse_run_config`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(path, f"cannot read: {error}") from None
    return parse_run_config(path, text, parsers)


def looks_like_run_config(text: str) -> bool:
    """Whether TOML text is a twin config file: its top level has one of our sections."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    tables = {name for name, body in data.items() if isinstance(body, dict)}
    # A site or an alarm file has other sections; [alarms] alone could be either.
    core = {"twin", "monitor", "collect", "console", "sink", "spool"}
    return bool(tables & core) and tables <= set(SECTIONS)


# Options whose file values are dropped when the command line picks another way:
# `--influx-v1` on the command line replaces the file's v2 database with its org,
# bucket and token, not just its URL.
COMPANIONS: dict[str, tuple[str, ...]] = {
    "influx": ("org", "bucket", "influx_token_file", "influx_token_env"),
    "influx_v1": ("db", "rp"),
}


def overridden(
    values: Mapping[str, Any], explicit: set[str], parser: argparse.ArgumentParser
) -> dict[str, Any]:
    """The file's values less those the command line overrides.

    A value given on the command line wins over the file's (``explicit`` are the dests
    the command line set). An option that excludes another (``--influx-v1`` and the
    file's ``influx``, ``--no-spool`` and the file's ``[spool] dir``) removes the
    other and what goes with it.
    """
    kept = {dest: value for dest, value in values.items() if dest not in explicit}
    for group in parser._mutually_exclusive_groups:
        dests = [action.dest for action in group._group_actions]
        if any(dest in explicit for dest in dests):
            for dest in dests:
                if dest not in explicit:
                    kept.pop(dest, None)
                    for companion in COMPANIONS.get(dest, ()):
                        if companion not in explicit:
                            kept.pop(companion, None)
    return kept


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for what we write
    return repr(value)


def example_text(parsers: Mapping[str, argparse.ArgumentParser]) -> str:
    """A commented config file with every key, for ``twin config example``.

    ``parsers`` maps a command (``run``, ``monitor``) to its parser. Keys are written
    with their example value; alternatives and values that change a default
    behaviour are commented out.
    """
    lines = [
        "# twin config file: twin run --config twin.toml, twin monitor --config twin.toml",
        "# Every key is a command-line option (named in its comment); an option given on",
        "# the command line overrides the file. Relative paths are taken from this file's",
        "# folder. Secrets never go here: a token is read from token_file or token_env.",
        "# Keys of the other command are checked and ignored (twin monitor ignores [twin]).",
    ]
    table = active_table(parsers.values())
    for section, purpose in SECTIONS.items():
        entries = [entry for entry in table if entry.section == section]
        if not entries:
            continue
        lines += ["", f"[{section}]  # {purpose}"]
        for entry in entries:
            commands = [name for name, p in parsers.items() if entry.dest in _actions([p])]
            action = _actions(parsers.values())[entry.dest]
            help_text = (action.help or "").replace("%(default)s", str(action.default))
            help_text = help_text.replace(str(Path.home()), "~")  # not this machine's home
            option = _option_name(action)
            if entry.invert:
                option = f"{entry.key} = false is {option}"
            about = f"{help_text} [{option}; twin {', twin '.join(commands)}]"
            lines += textwrap.wrap(about, 88, initial_indent="# ", subsequent_indent="#   ")
            prefix = "" if entry.active else "# "
            lines.append(f"{prefix}{entry.key} = {_toml(entry.example)}")
    return "\n".join(lines) + "\n"

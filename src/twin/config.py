"""Loading TOML data files into validated, frozen objects, with errors a user can act on.

Every user-editable TOML file (site, catalog entry, scenario, load profile) goes
through :func:`load_toml_model`: a syntax error, a missing or misspelt key, a
value of the wrong type or out of range all become one :class:`ConfigError`
naming the file, the dotted key, its line where we can find it, and what was
expected. Nothing is half-loaded: the object exists only if the whole file is valid.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from twin.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


class Frozen(BaseModel):
    """Base of every config object: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file, turning I/O and syntax errors into :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(path, f"cannot read: {error}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise ConfigError(path, f"invalid TOML: {message}", line=line) from None


def line_of_key(text: str, dotted_key: str) -> int | None:
    """Best-effort 1-based line of a dotted key (``halls.0.gpu_racks``) in TOML text."""
    parts = [p for p in dotted_key.split(".") if not p.isdigit()]
    if not parts:
        return None
    leaf = parts[-1]
    section = ".".join(parts[:-1])
    in_section = section == ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?$", line)
        if header:
            in_section = header.group(1) == section or header.group(1) == dotted_key
            if header.group(1) == ".".join(parts):
                return number
            continue
        if in_section and re.match(rf"^{re.escape(leaf)}\s*=", line):
            return number
    return None


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; units belong in the key name, e.g. power_kw)"
    message = error["msg"]
    given = error.get("input")
    if given is not None and not isinstance(given, dict | list):
        message += f", got {given!r}"
    return message


def _file_keys(data: Any, loc: tuple[int | str, ...]) -> list[int | str]:
    """The error's location as keys of the file: pydantic puts a tagged union's tag
    (``events.0.load_step.at_s``) in the path, which the author never wrote."""
    keys: list[int | str] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and part in node.values():
            continue
        keys.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return keys


def validate(path: Path, text: str, data: dict[str, Any], model: type[Model]) -> Model:
    """Validate parsed data into ``model``; the first error becomes a ConfigError."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in _file_keys(data, first["loc"])) or None
        line = line_of_key(text, key) if key else None
        raise ConfigError(path, _describe(first), key=key, line=line) from None


def load_toml_model(path: Path, model: type[Model]) -> Model:
    """Read and validate a TOML file into a frozen model."""
    data, text = read_toml(path)
    return validate(path, text, data, model)

"""Errors a user can act on.

:class:`ConfigError` is raised for anything wrong in a file a user gave us (a site
config, a weather file, a load profile, a catalog entry): it names the file, and
where it can the key or the line, and says what was expected, so the message alone
is enough to fix the file.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ConfigError"]


class ConfigError(Exception):
    """A user-editable file is missing, malformed or out of range.

    Parameters
    ----------
    path : str or os.PathLike
        The offending file (or folder, for a lookup by name).
    message : str
        What is wrong and what was expected, e.g.
        ``"field 7 (dry bulb) expected a number, got 'abc'"``.
    key : str, optional
        Dotted key inside the file, for structured files (TOML), e.g. ``"period_s"``.
    line : int, optional
        1-based line number inside the file.

    Examples
    --------
    >>> str(ConfigError("sim/weather/x.epw", "field 7 (dry bulb) expected a number, got 'abc'",
    ...                 line=12))
    "sim/weather/x.epw line 12: field 7 (dry bulb) expected a number, got 'abc'"
    >>> str(ConfigError("sim/loads/a.toml", "must be in [0, 1], got 1.5", key="level"))
    "sim/loads/a.toml key 'level': must be in [0, 1], got 1.5"
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        message: str,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(path, message, key, line)
        self.path = Path(path)
        self.message = message
        self.key = key
        self.line = line

    def __str__(self) -> str:
        where = [_display(self.path)]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.key is not None:
            where.append(f"key '{self.key}'")
        return f"{' '.join(where)}: {self.message}"


def _display(path: Path) -> str:
    """Show a path relative to the working folder when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)

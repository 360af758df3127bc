"""The unit of data a sink stores: one :class:`Record`, one line of line protocol.

A record is what one source (a device, a rack, the site) reported at one instant:
an equipment-class measurement (``ups``, ``cdu``, ``rack``, ``tower``, ``site``…),
low-cardinality tags (``site``, ``hall``, ``device``), float fields whose names carry
their unit (``power_kw``, ``t_supply_c``) and the source's timestamp in nanoseconds.

Quality convention (see ``SCHEMA.md`` beside this file):

- every record carries a ``quality`` field: 0 good, 1 stale, 2 bad (as a float);
- ``fields`` only ever hold *good* values. A stale or bad sample is not written as a
  value at all, only reflected in ``quality`` (the worst quality among the samples the
  record was built from). :meth:`Record.from_samples` applies this rule.

Encoding follows the InfluxDB line protocol: measurement, tag keys, tag values and
field keys are escaped, tags are sorted by key (what InfluxDB recommends, and it makes
identical series encode identically), and every field is written as a float, so a
field never changes type (an integer register value followed by a float would be a
type conflict that makes InfluxDB drop points).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from math import isfinite
from types import MappingProxyType

from twin.points.quality import Quality

__all__ = [
    "QUALITY_FIELD",
    "LineEncoder",
    "Quality",
    "Record",
    "encode_line",
    "encode_lines",
]

QUALITY_FIELD = "quality"


TagsLike = Mapping[str, str] | Iterable[tuple[str, str]]


def _check_name(kind: str, name: str) -> None:
    # A newline cannot be escaped in line protocol, and a trailing backslash would
    # escape the separator that follows it: both make the line unparseable.
    if not isinstance(name, str) or not name:
        raise ValueError(f"{kind} must be a non-empty string, got {name!r}")
    if "\n" in name or "\r" in name:
        raise ValueError(f"{kind} {name!r} contains a newline")
    if name.endswith("\\"):
        raise ValueError(f"{kind} {name!r} ends with a backslash")


def _as_float(name: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"field {name!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        # Line protocol has no NaN or infinity; a non-finite reading is a bad sample.
        raise ValueError(f"field {name!r}: {value!r} is not finite (report it as bad quality)")
    return number


_QUALITIES = {int(q): q for q in Quality}
# The quality field's text by quality (what repr(float(quality)) gives).
_QUALITY_TEXT = {q: repr(float(q)) for q in Quality}

# Measurements and field keys that passed every check for their kind. A site
# repeats the same few hundred names every tick: each is checked once, not once per
# record. Bounded like the encoder's caches (cleared when full).
_VALID_MEASUREMENTS: set[str] = set()
_VALID_FIELD_KEYS: set[str] = set()
# Tags as given (a tuple of the pairs) -> the cleaned, sorted tuple a Record keeps.
_NORMAL_TAGS: dict[tuple, tuple[tuple[str, str], ...]] = {}
_MAX_CACHE = 100_000

_set = object.__setattr__


def _remember(known: set[str], name: str) -> None:
    if len(known) >= _MAX_CACHE:
        known.clear()
    known.add(name)


def _clean_tags(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    clean: dict[str, str] = {}
    for key, value in pairs:
        _check_name("tag key", key)
        if value is None or value == "":
            continue
        _check_name(f"tag {key!r} value", value)
        clean[key] = value
    return tuple(sorted(clean.items()))


def _normal_tags(tags: TagsLike) -> tuple[tuple[str, str], ...]:
    """Tags validated, empty values dropped, sorted by key; cached per distinct input."""
    given = tuple(tags.items() if type(tags) is dict or isinstance(tags, Mapping) else tags)
    try:
        known = _NORMAL_TAGS.get(given)
    except TypeError:  # something unhashable in there: let the checks say what
        return _clean_tags(given)
    if known is None:
        known = _clean_tags(given)
        if len(_NORMAL_TAGS) >= _MAX_CACHE:
            _NORMAL_TAGS.clear()
        # Only exact str pairs are cached: a str subclass or a look-alike that
        # compares equal must still go through the checks.
        if all(type(k) is str and (v is None or type(v) is str) for k, v in given):
            _NORMAL_TAGS[given] = known
    return known


@dataclass(frozen=True, slots=True, init=False, eq=False)
class Record:
    """One timestamped observation of one source.

    Parameters
    ----------
    measurement : str
        Equipment class (``ups``, ``cdu``, ``rack``…) or ``site`` for site metrics.
    tags : mapping or iterable of (key, value)
        Low-cardinality identity of the source: ``site``, ``hall``, ``device``. Stored
        as a tuple of pairs sorted by key. Empty values are dropped (InfluxDB rejects them).
    fields : mapping of str to float
        Good values only, unit in the name (``power_kw``). Ints and bools are converted
        to float. ``quality`` is reserved.
    time_ns : int
        Source timestamp (device or plant time), nanoseconds since the Unix epoch.
    quality : Quality or int, optional
        Worst quality among the samples behind this record (default good).

    Examples
    --------
    >>> r = Record("ups", {"site": "sh1", "device": "ups 1"}, {"power_kw": 512}, 1_700_000_000)
    >>> encode_line(r)
    'ups,device=ups\\\\ 1,site=sh1 power_kw=512.0,quality=0.0 1700000000'
    """

    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: Mapping[str, float]
    time_ns: int
    quality: Quality = field(default=Quality.GOOD)
    # What the encoder needs, computed once here: the series and field names (the
    # encoder's cache key), and what goes into its template: the field values in the
    # same order, the quality's text and the time.
    _series: tuple = field(default=(), repr=False)
    _args: tuple = field(default=(), repr=False)

    def __init__(
        self,
        measurement: str,
        tags: TagsLike,
        fields: Mapping[str, float],
        time_ns: int,
        quality: Quality | int = Quality.GOOD,
    ) -> None:
        if type(measurement) is not str or measurement not in _VALID_MEASUREMENTS:
            _check_name("measurement", measurement)
            if measurement.startswith("#"):
                raise ValueError(f"measurement {measurement!r} starts with '#' (a comment line)")
            _remember(_VALID_MEASUREMENTS, measurement)
        sorted_tags = _normal_tags(tags)
        values: dict[str, float] = {}
        known = _VALID_FIELD_KEYS
        for name, value in fields.items():
            if type(name) is not str or name not in known:
                _check_name("field key", name)
                if name == QUALITY_FIELD:
                    raise ValueError("field 'quality' is reserved: pass quality=")
                _remember(known, name)
            if type(value) is not float:
                value = _as_float(name, value)
            elif not isfinite(value):
                _as_float(name, value)  # raises: not finite
            values[name] = value
        if isinstance(time_ns, bool) or not isinstance(time_ns, int):
            raise ValueError(f"time_ns must be an int (nanoseconds), got {time_ns!r}")
        _set(self, "measurement", measurement)
        _set(self, "tags", sorted_tags)
        _set(self, "fields", MappingProxyType(values))
        _set(self, "time_ns", time_ns)
        quality = _QUALITIES[quality] if quality in _QUALITIES else Quality(quality)
        _set(self, "quality", quality)
        _set(self, "_series", (measurement, sorted_tags, tuple(values)))
        _set(self, "_args", (*values.values(), _QUALITY_TEXT[quality], time_ns))

    @classmethod
    def _trusted(
        cls,
        measurement: str,
        tags: tuple[tuple[str, str], ...],
        fields: dict[str, float],
        time_ns: int,
        quality: Quality,
    ) -> Record:
        """A record from parts that already passed every check, taken as they are.

        For a hot path that builds the same series every tick (the live feeder): the
        measurement and tags of an earlier ``Record`` (so checked and normalised),
        field names that an earlier ``Record`` accepted, finite floats, a ``Quality``.
        ``fields`` is kept, not copied: the caller gives it up.
        """
        record = object.__new__(cls)
        _set(record, "measurement", measurement)
        _set(record, "tags", tags)
        _set(record, "fields", MappingProxyType(fields))
        _set(record, "time_ns", time_ns)
        _set(record, "quality", quality)
        _set(record, "_series", (measurement, tags, tuple(fields)))
        _set(record, "_args", (*fields.values(), _QUALITY_TEXT[quality], time_ns))
        return record

    def __reduce__(self) -> tuple:
        # The read-only mapping proxy does not pickle; rebuild from plain values.
        return (
            Record,
            (self.measurement, self.tags, dict(self.fields), self.time_ns, int(self.quality)),
        )

    def __hash__(self) -> int:
        return hash((self.measurement, self.tags, tuple(self.fields.items()), self.time_ns))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (
            self.measurement == other.measurement
            and self.tags == other.tags
            and dict(self.fields) == dict(other.fields)
            and self.time_ns == other.time_ns
            and self.quality == other.quality
        )

    @classmethod
    def from_samples(
        cls,
        measurement: str,
        tags: TagsLike,
        samples: Mapping[str, tuple[float | None, Quality | int]],
        time_ns: int,
    ) -> Record:
        """Build a record from ``{field: (value, quality)}``, applying the quality rule.

        Good samples become fields; stale or bad ones (and non-finite or missing
        values, which are bad by definition) are left out, and the record's quality is
        the worst of all.

        Examples
        --------
        >>> r = Record.from_samples("cdu", {"device": "cdu1"},
        ...     {"t_supply_c": (32.5, 0), "flow_kg_s": (999.0, Quality.BAD)}, 10)
        >>> dict(r.fields), r.quality.name
        ({'t_supply_c': 32.5}, 'BAD')
        """
        worst = Quality.GOOD
        good: dict[str, float] = {}
        for name, (value, quality) in samples.items():
            quality = Quality(quality)
            if quality is Quality.GOOD:
                try:
                    number = float(value)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    number = math.nan
                if math.isfinite(number):
                    good[name] = number
                else:
                    quality = Quality.BAD  # a missing or non-finite "good" value is bad
            worst = max(worst, quality)
        return cls(measurement, tags, good, time_ns, worst)


def _escape_measurement(name: str) -> str:
    return name.replace(",", "\\,").replace(" ", "\\ ")


def _escape_key(name: str) -> str:
    # Tag keys, tag values and field keys: commas, equals signs and spaces.
    return name.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


class LineEncoder:
    """Encode records to line protocol, caching the escaped parts that repeat.

    A site reports the same few thousand series every tick, with the same fields,
    so each (measurement, tags, field names) gets a ``%``-format template once: the
    escaped ``measurement,tags`` prefix and the escaped field keys, with ``%r`` where
    each value goes (``repr`` of a float is the shortest text that parses back to the
    same double, always with a '.' or an exponent: never an integer). Escaping is
    paid once per series, and a line is one ``%`` formatting. The caches are bounded
    and reset when full, so a high-cardinality mistake costs speed, not memory.
    """

    def __init__(self, max_cache: int = 100_000) -> None:
        self._prefixes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        self._templates: dict[tuple, str] = {}
        self._max_cache = max_cache

    def _template(self, record: Record) -> str:
        series = (record.measurement, record.tags)
        prefix = self._prefixes.get(series)
        if prefix is None:
            if len(self._prefixes) >= self._max_cache:
                self._prefixes.clear()
            prefix = _escape_measurement(record.measurement) + "".join(
                f",{_escape_key(k)}={_escape_key(v)}" for k, v in record.tags
            )
            self._prefixes[series] = prefix
        # Literal text goes through %-formatting: a '%' in a name must be doubled.
        template = prefix.replace("%", "%%") + " "
        for name in record.fields:
            template += _escape_key(name).replace("%", "%%") + "=%r,"
        template += "quality=%s %d"
        if len(self._templates) >= self._max_cache:
            self._templates.clear()
        self._templates[record._series] = template
        return template

    def encode(self, record: Record) -> str:
        """Return one line (no trailing newline)."""
        template = self._templates.get(record._series) or self._template(record)
        return template % record._args

    def encode_many(self, records: Iterable[Record]) -> list[str]:
        """Encode several records, one line each."""
        templates = self._templates
        lines = []
        append = lines.append
        for record in records:
            template = templates.get(record._series) or self._template(record)
            append(template % record._args)
        return lines


_default_encoder = LineEncoder()


def encode_line(record: Record) -> str:
    """Encode one record to a line of line protocol (shared cached encoder)."""
    return _default_encoder.encode(record)


def encode_lines(records: Iterable[Record]) -> list[str]:
    """Encode records to lines of line protocol (shared cached encoder)."""
    return _default_encoder.encode_many(records)

"""Record validation, the quality rule and line-protocol encoding."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from twin.points.quality import Quality
from twin.sinks.record import LineEncoder, Record, encode_line


def test_fields_are_always_floats_so_a_field_never_changes_type() -> None:
    record = Record("ups", {"device": "ups1"}, {"power_kw": 512, "on_battery": True}, 1)
    line = encode_line(record)
    assert line == "ups,device=ups1 power_kw=512.0,on_battery=1.0,quality=0.0 1"
    # an integer field in line protocol ends in "i": never emitted
    assert not any(part.endswith("i") for part in line.split(" ")[1].split(","))


def test_float_text_round_trips_exactly() -> None:
    values = [0.1, 1 / 3, 123456.789012345678, -2.5e-300, 1e16, 2.0**53 + 2]
    record = Record("m", {}, {f"f{i}": v for i, v in enumerate(values)}, 0)
    fields = encode_line(record).split(" ")[1].split(",")
    parsed = [float(field.split("=")[1]) for field in fields[:-1]]
    assert parsed == values


def test_escaping_of_every_part() -> None:
    record = Record("a b,c", {"k=1 ,": "v=1, x"}, {"f 1,=": 1.0}, 7)
    assert encode_line(record) == r"a\ b\,c,k\=1\ \,=v\=1\,\ x f\ 1\,\==1.0,quality=0.0 7"


def test_tags_sorted_and_empty_values_dropped() -> None:
    record = Record("rack", [("site", "sh1"), ("device", "r1"), ("hall", "")], {"p_kw": 1}, 1)
    assert record.tags == (("device", "r1"), ("site", "sh1"))
    assert encode_line(record).startswith("rack,device=r1,site=sh1 ")


@pytest.mark.parametrize(
    ("measurement", "tags", "fields", "message"),
    [
        ("", {}, {"x": 1}, "non-empty"),
        ("#m", {}, {"x": 1}, "comment"),
        ("m", {"k": "a\nb"}, {"x": 1}, "newline"),
        ("m", {"k": "ends\\"}, {"x": 1}, "backslash"),
        ("m", {}, {"x": math.nan}, "not finite"),
        ("m", {}, {"x": math.inf}, "not finite"),
        ("m", {}, {"x": "12"}, None),  # numeric text is accepted as a number
        ("m", {}, {"x": "twelve"}, "not a number"),
        ("m", {}, {"quality": 0}, "reserved"),
    ],
)
def test_invalid_records_are_refused(measurement, tags, fields, message) -> None:
    if message is None:
        assert Record(measurement, tags, fields, 0).fields["x"] == 12.0
        return
    with pytest.raises(ValueError, match=message):
        Record(measurement, tags, fields, 0)


def test_time_must_be_integer_nanoseconds() -> None:
    with pytest.raises(ValueError, match="time_ns"):
        Record("m", {}, {"x": 1}, 1.5)  # type: ignore[arg-type]


def test_quality_rule_not_good_values_are_never_written_as_values() -> None:
    record = Record.from_samples(
        "cdu",
        {"device": "cdu1"},
        {
            "t_supply_c": (32.5, Quality.GOOD),
            "t_return_c": (40.1, Quality.STALE),
            "flow_lpm": (999.0, Quality.BAD),
            "dp_kpa": (math.nan, Quality.GOOD),  # a non-finite "good" value is bad
            "valve_pct": (None, Quality.GOOD),
        },
        42,
    )
    assert dict(record.fields) == {"t_supply_c": 32.5}
    assert record.quality is Quality.BAD
    assert encode_line(record) == "cdu,device=cdu1 t_supply_c=32.5,quality=2.0 42"


def test_all_stale_record_carries_only_quality() -> None:
    record = Record.from_samples("ups", {"device": "u"}, {"power_kw": (5.0, 1)}, 3)
    assert encode_line(record) == "ups,device=u quality=1.0 3"


def test_records_pickle_compare_and_hash() -> None:
    record = Record("ups", {"device": "u"}, {"power_kw": 5}, 3, Quality.STALE)
    copy = pickle.loads(pickle.dumps(record))
    assert copy == record and hash(copy) == hash(record)
    assert record != Record("ups", {"device": "u"}, {"power_kw": 5}, 3)
    with pytest.raises(TypeError):
        record.fields["power_kw"] = 6.0  # type: ignore[index]


def test_encoder_cache_is_bounded() -> None:
    encoder = LineEncoder(max_cache=3)
    lines = [encoder.encode(Record("m", {"d": str(i)}, {f"f{i}": i}, i)) for i in range(10)]
    assert lines[9] == "m,d=9 f9=9.0,quality=0.0 9"
    assert len(encoder._prefixes) <= 3 and len(encoder._templates) <= 3


def reference_line(record: Record) -> str:
    """The line, built the plain way: what the cached templates must reproduce."""

    def key(text: str) -> str:
        return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")

    head = record.measurement.replace(",", "\\,").replace(" ", "\\ ")
    head += "".join(f",{key(k)}={key(v)}" for k, v in record.tags)
    fields = [f"{key(k)}={float(v)!r}" for k, v in record.fields.items()]
    fields.append(f"quality={float(record.quality)!r}")
    return f"{head} {','.join(fields)} {record.time_ns}"


def test_cached_templates_give_the_plain_encoding() -> None:
    rng = random.Random(7)
    names = ["p_kw", "t c", "a,b", "x=y", "100%", "%r", "%s%%", "m%d,", "é"]
    records = []
    for _ in range(3000):
        fields = {
            name: rng.choice([0.0, -0.0, 1.0, 1e-300, 1 / 3, 2.0**60, rng.uniform(-1e6, 1e6)])
            for name in rng.sample(names, rng.randint(0, 4))
        }
        tags = {"device": rng.choice(["d1", "d 2", "d,3", "d=4", "%d"]), "site": "s%"}
        measurement = rng.choice(["rack", "m%", "a b,c"])
        quality = rng.choice(list(Quality))
        records.append(Record(measurement, tags, fields, rng.randint(0, 2**62), quality))
    encoder = LineEncoder(max_cache=50)  # small: cache resets happen along the way
    assert encoder.encode_many(records) == [reference_line(r) for r in records]
    assert [encoder.encode(r) for r in records[:100]] == [reference_line(r) for r in records[:100]]


def test_names_checked_once_are_still_checked_for_their_kind() -> None:
    # A name valid in one place is remembered; that must not let it through elsewhere.
    Record("m", {"quality": "x"}, {"#f": 1}, 0)
    Record("quality", {"#t": "v"}, {"x": 1}, 0)
    with pytest.raises(ValueError, match="reserved"):
        Record("m", {}, {"quality": 1}, 0)
    with pytest.raises(ValueError, match="comment"):
        Record("#f", {}, {"x": 1}, 0)
    # and what failed once fails every time
    for _ in range(2):
        with pytest.raises(ValueError, match="newline"):
            Record("m", {"k": "a\nb"}, {"x": 1}, 0)
        with pytest.raises(ValueError, match="non-empty"):
            Record("m", {"": "v"}, {"x": 1}, 0)

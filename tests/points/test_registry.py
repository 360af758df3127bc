"""Point registries: the shipped ones load, bad ones exit 2 naming file, row and column."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from twin.collect.modbus import ModbusOptions, plan_blocks
from twin.devices.inventory import build
from twin.devices.registry import opcua_endpoint, rows, write_csv
from twin.errors import ConfigError
from twin.plant.layout import assemble
from twin.points.registry import load_registry, parse_registry
from twin.site import load_site

ROOT = Path(__file__).parents[2]
HEADER = "point,unit,modbus_host,modbus_port,unit_id,register_type,address,data_type,word_order"
GOOD = "a.p,kW,127.0.0.1,1502,1,input_register,0,float32,CDAB"


def twin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_shipped_aidc_registry_is_what_twin_points_prints() -> None:
    inventory = build(assemble(load_site("aidc-10mw")))
    out = io.StringIO()
    endpoint = opcua_endpoint("127.0.0.1", 4840)
    write_csv(rows(inventory, "127.0.0.1", [5020 + i for i in range(4)], endpoint), out)
    shipped = ROOT / "configs/points/aidc-10mw.csv"
    assert shipped.read_text() == out.getvalue(), "regenerate: twin points aidc-10mw > " + str(
        shipped
    )
    registry = load_registry(shipped)
    assert len(registry) > 2000
    roles = {p.role for p in registry.points}
    assert {"facility_kw", "it_input_kw", "ups_output_kw", "cooling_kw", "water_l_per_h"} <= roles


def test_vendor_registry_converts_1_based_numbers() -> None:
    registry = load_registry(ROOT / "configs/points/plant-room-vendor.csv")
    energy = registry.by_name["mains.energy_kwh"]
    assert (energy.register_type, energy.address, energy.word_order) == (
        "input_register",
        10,
        "CDAB",
    )
    setpoint = registry.by_name["crac1.t_supply_set_c"]
    assert (setpoint.register_type, setpoint.address, setpoint.writable) == (
        "holding_register",
        0,
        True,
    )
    assert registry.by_name["crac1.running"].register_type == "discrete_input"
    # the CRAC's five input registers make one request
    crac = [p for p in registry.points if p.device == "crac1"]
    blocks = plan_blocks(crac, ModbusOptions())
    assert sorted((b.table, b.start, b.count) for b in blocks) == [
        ("discrete_input", 0, 1),
        ("holding_register", 0, 1),
        ("input_register", 0, 5),
    ]


def test_blocks_respect_the_register_limit_and_gap() -> None:
    lines = [HEADER] + [
        f"p{i},kW,127.0.0.1,1502,1,input_register,{i * 2},float32,ABCD" for i in range(100)
    ]
    lines.append("far,kW,127.0.0.1,1502,1,input_register,1000,float32,ABCD")
    registry = parse_registry("\n".join(lines), Path("x.csv"))
    blocks = plan_blocks(registry.points, ModbusOptions(max_registers=125, gap=8))
    assert [(b.start, b.count) for b in blocks] == [(0, 124), (124, 76), (1000, 2)]
    blocks = plan_blocks(registry.points, ModbusOptions(max_registers=50, gap=8))
    assert max(b.count for b in blocks) <= 50


BAD = [
    (
        GOOD + "\na.q,kW,127.0.0.1,1502,1,input_register,1,float32,CDAB",
        3,
        "address",
        "overlaps a.p",
    ),
    (GOOD + "\na.p,kW,127.0.0.1,1502,1,input_register,8,float32,CDAB", 3, "point", "already"),
    ("a.p,kW,127.0.0.1,1502,1,input_register,0,float32,DBCA", 2, "word_order", "unknown word"),
    ("a.p,kW,127.0.0.1,1502,1,input_register,0,float48,ABCD", 2, "data_type", "unknown data"),
    ("a.p,kW,127.0.0.1,1502,1,input_regs,0,float32,ABCD", 2, "register_type", "unknown reg"),
    ("a.p,kW,127.0.0.1,1502,1,coil,0,uint16,", 2, "data_type", "one bit"),
    ("a.p,kW,127.0.0.1,1502,1,input_register,x,float32,ABCD", 2, "address", "an integer"),
    ("a.p,kW,127.0.0.1,99999,1,input_register,0,float32,ABCD", 2, "modbus_port", "65535"),
]


@pytest.mark.parametrize(("body", "row", "column", "message"), BAD)
def test_bad_rows_name_row_and_column(body: str, row: int, column: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_registry(HEADER + "\n" + body, Path("bad.csv"))
    text = str(error.value)
    assert f"row {row}, column '{column}'" in text and message in text, text


def test_size_mismatch_and_vendor_number_slip(tmp_path: Path) -> None:
    header = HEADER + ",registers,vendor_address"
    with pytest.raises(ConfigError, match=r"row 2, column 'registers': float32 takes 2"):
        parse_registry(header + "\n" + GOOD + ",1,", Path("x.csv"))
    with pytest.raises(ConfigError, match=r"row 2, column 'address': address 0 disagrees"):
        parse_registry(header + "\n" + GOOD + ",2,30002", Path("x.csv"))


def test_twin_check_exits_2_with_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "site.csv"
    path.write_text(
        "# a comment line counts as a line\n"
        + HEADER
        + "\n"
        + GOOD
        + "\na.q,kW,127.0.0.1,1502,1,input_register,1,uint32,CDAB\n"
    )
    result = twin("check", str(path))
    assert result.returncode == 2
    assert "site.csv" in result.stderr
    assert "row 4, column 'address'" in result.stderr and "overlaps a.p" in result.stderr
    assert twin("check", str(ROOT / "configs/points/plant-room-vendor.csv")).returncode == 0

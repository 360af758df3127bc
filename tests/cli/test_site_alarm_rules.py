"""A site names its alarm rules; the same design at another size shares them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from twin.paths import data_path
from twin.site import alarm_rules_path, load_site


def test_sites_of_the_reference_design_share_its_rules() -> None:
    reference = data_path("configs", "alarms") / "aidc-10mw.toml"
    for name in ("aidc-10mw", "aidc-100mw", "aidc-10mw-dry"):
        assert alarm_rules_path(load_site(name)) == reference, name


def test_unknown_rules_name_is_refused_with_key_and_line(tmp_path: Path) -> None:
    text = (data_path("configs", "sites") / "aidc-100mw.toml").read_text()
    site = tmp_path / "site.toml"
    site.write_text(text.replace('alarm_rules = "aidc-10mw"', 'alarm_rules = "no-such-rules"'))
    result = subprocess.run(
        [sys.executable, "-m", "twin.cli", "check", "--kind", "site", str(site)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "alarm_rules" in result.stderr and "no-such-rules" in result.stderr
    assert "aidc-10mw" in result.stderr  # the valid names are listed
    assert "line " in result.stderr

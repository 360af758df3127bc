"""``twin check FILE...``: validate a file as the command that loads it would.

The kind of file (site, scenario, catalog entry, load or device profile, weather,
registry, alarm rules, config file) is taken from the folder it lives in or its
extension unless ``--kind`` says it; a scenario is checked against a site. Apart from
the parser because it reaches into every loader of twin (sites, the plant's layout,
devices, registries, alarm rules), which no other command needs at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from twin.cli.parser import config_parsers
from twin.errors import ConfigError


def _check_scenario(path: Path, site_name: str) -> None:
    """A scenario as `twin sim --scenario` and `twin run --scenario` read it, on ``site_name``."""
    from twin.devices.cli import load_sim_scenario
    from twin.devices.faults import check_faults
    from twin.devices.inventory import build
    from twin.plant.layout import assemble
    from twin.plant.scenarios import check_targets
    from twin.site import load_site

    scenario, faults, _ = load_sim_scenario(str(path))
    site = load_site(site_name)
    layout = assemble(site)
    check_targets(layout, scenario, path)  # type: ignore[arg-type]
    check_faults(faults, build(layout), path)


def check_file(path: Path, kind: str | None = None, site: str = "aidc-10mw") -> str:
    """Validate one file as the command that loads it would; return its kind.

    A scenario is checked against ``site`` (its targets and faulted devices must exist
    there). Raises ConfigError.
    """
    from twin import catalog
    from twin.loads import load_profile
    from twin.site import load_site
    from twin.weather import load_weather

    if not path.exists():
        raise ConfigError(path, "file not found")
    folders = {"alarms": "alarms", "sites": "site", "scenarios": "scenario", "loads": "load",
               "profiles": "profile", "models": "catalog"}  # fmt: skip
    # The nearest known folder decides (a checkout under /work/alarms is not an alarm file).
    nearest = next((folders[p] for p in reversed(path.resolve().parts[:-1]) if p in folders), None)
    if kind is None:
        if path.suffix in (".epw", ".mos"):
            kind = "weather"
        elif path.suffix == ".csv":
            kind = "registry"
        elif path.parent.name in catalog.KINDS:
            kind = "catalog"
        elif nearest is not None:
            kind = nearest
        elif path.suffix == ".toml" and _is_run_config(path):
            kind = "config"
        else:
            raise ConfigError(path, "cannot tell what this file is from its folder; pass --kind")
    if kind == "site":
        # `twin run` reads the site's weather before the first step: so does check.
        load_weather(load_site(path).weather)
    elif kind == "scenario":
        _check_scenario(path, site)
    elif kind == "load":
        load_profile(path)
    elif kind == "weather":
        load_weather(path)
    elif kind == "registry":
        from twin.points.registry import load_registry

        load_registry(path)
    elif kind == "alarms":
        from twin.live.alarms import load_rules

        load_rules(path)
    elif kind == "config":
        from twin.runconfig import load_run_config

        load_run_config(path, config_parsers().values())
    elif kind == "profile":
        from twin.devices.profiles import load_profile_file

        load_profile_file(path)
    else:
        catalog.load_entry_file(path)
    return kind


def _is_run_config(path: Path) -> bool:
    from twin.runconfig import looks_like_run_config

    try:
        return looks_like_run_config(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False


def _cmd_check(args: argparse.Namespace) -> int:
    for path in args.files:
        kind = check_file(path, args.kind, args.site)
        print(f"{path}: valid {kind}")
    return 0

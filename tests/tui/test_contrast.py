"""Every colour the dashboard draws text or lines in is readable, in both themes.

WCAG 2.x: text 4.5:1 against what it is drawn on (1.4.3), borders and other
non-text marks 3:1 (1.4.11). Checked for the palette of state colours and for every
foreground/background and border of ``twin.tcss``, resolved as each theme resolves it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.color import Color
from textual.theme import BUILTIN_THEMES

import twin.tui
from twin.tui.app import DARK, LIGHT
from twin.tui.palette import contrast, palette

TCSS = Path(twin.tui.__file__).with_name("twin.tcss")


def variables(theme: str) -> dict[str, str]:
    t = BUILTIN_THEMES[theme]
    return {**palette(t.dark).variables(), **t.to_color_system().generate()}


def resolve(value: str, v: dict[str, str], on: str | None = None) -> str:
    """A CSS colour value as ``#RRGGBB``: variables followed, ``auto N%`` and alpha
    blended over ``on`` as Textual draws them."""
    value = value.strip()
    while value.startswith("$"):
        name, _, rest = value[1:].partition(" ")
        value = f"{v[name]} {rest}".strip()
    if value.startswith("auto"):
        assert on is not None
        base = Color.parse(on)
        alpha = float(value.split()[1].rstrip("%")) / 100 if " " in value else 1.0
        return (base + base.get_contrast_text(alpha)).hex[:7]
    color = Color.parse(value.split()[0])
    if color.a < 1 and on is not None:
        color = Color.parse(on) + color
    return color.hex[:7]


def rules() -> list[tuple[str, dict[str, str]]]:
    text = re.sub(r"/\*.*?\*/", "", TCSS.read_text(), flags=re.S)
    out = []
    for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", text):
        decl = dict(
            (k.strip(), val.strip().rstrip(";"))
            for k, _, val in (line.partition(":") for line in body.split(";"))
            if val.strip()
        )
        out.append((selector.strip(), decl))
    return out


@pytest.mark.parametrize("theme", [DARK, LIGHT])
def test_state_colours_are_readable_on_every_surface(theme: str) -> None:
    v = variables(theme)
    p = palette(BUILTIN_THEMES[theme].dark)
    for surface in ("background", "surface", "panel"):
        on = resolve(f"${surface}", v)
        for name in ("ok", "warn", "alarm", "info", "muted"):
            colour = getattr(p, name)
            assert contrast(colour, on) >= 4.5, (theme, name, colour, surface, on)
    assert contrast(p.urgent_fg, p.urgent_bg) >= 4.5


@pytest.mark.parametrize("theme", [DARK, LIGHT])
def test_every_style_of_twin_tcss_is_readable(theme: str) -> None:
    v = variables(theme)
    checked = 0
    for selector, decl in rules():
        background = resolve(decl.get("background", "$background"), v)
        if "color" in decl:
            fg = resolve(decl["color"], v, on=background)
            assert contrast(fg, background) >= 4.5, (theme, selector, fg, background)
            checked += 1
        for key in ("border", "border-top"):
            if key in decl:
                line = resolve(decl[key].split()[-1], v, on=background)
                assert contrast(line, background) >= 3.0, (theme, selector, line, background)
                checked += 1
    assert checked >= 6


def test_the_check_fails_on_the_colours_it_replaced() -> None:
    # Textual's $warning on the light theme's background: what drew yellow text
    # near-invisible on light grey.
    v = variables(LIGHT)
    assert contrast(resolve("$warning", v), resolve("$background", v)) < 3.0

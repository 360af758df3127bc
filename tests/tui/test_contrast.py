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
from twin.tui.app import DARK, LIGHT, TwinApp
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


# ------------------------------------------------------------- the rendered screen
#
# The checks above read twin.tcss; Textual's own widgets (tabs, footer keys, the
# block cursor, placeholders, the palette, buttons) draw with the theme's colours
# and fell under 4.5:1 on the light theme while twin.tcss passed. These read every
# character of the composited screen, as a terminal would draw it.

SHAPES = range(0x2500, 0x25A0)  # box drawing and block elements: lines and bars, not text


def unreadable(app: TwinApp, floor: float = 4.5) -> list[tuple[str, str, float, str]]:
    """(fg, bg, ratio, text) of each run of text on the top screen under ``floor``.

    A modal screen is checked within its own widgets: what shows through around it
    is dimmed on purpose. Pictographs outside the BMP (the palette's magnifier) are
    drawn by the terminal's emoji font in its own colours, so they are left out.
    """
    from textual.screen import ModalScreen

    screen = app.screen
    update = screen._compositor.render_update(full=True)
    regions = None
    if isinstance(screen, ModalScreen):
        regions = [w.region for w in screen.walk_children() if w.display]
    bad = []
    for y, line in enumerate(update.strips):
        x = 0
        for strip in line:
            for segment in strip:
                x0, x = x, x + segment.cell_length
                text = "".join(c for c in segment.text if ord(c) not in SHAPES and ord(c) <= 0xFFFF)
                if segment.control or not text.strip():
                    continue
                if regions is not None and not any(r.contains(x0, y) for r in regions):
                    continue
                style = segment.style
                assert style is not None and style.color and style.bgcolor, (y, text, style)
                fg = style.color.get_truecolor().hex
                bg = style.bgcolor.get_truecolor().hex
                if style.reverse:
                    fg, bg = bg, fg
                ratio = contrast(fg, bg)
                if ratio < floor:
                    bad.append((fg, bg, round(ratio, 2), text.strip()[:30]))
    return bad


async def rendered_screens(app: TwinApp, pilot) -> dict[str, list]:
    """Every view, the toasts, help, setpoint and shelve dialogs and the palette."""
    from twin.tui.screens.views import VIEWS

    found: dict[str, list] = {}
    await app.refresh_now()
    await pilot.pause()
    for key, name in enumerate(VIEWS, start=1):
        await pilot.press(str(key))
        await pilot.pause()
        found[name] = unreadable(app)
        if name == "alarms":  # its table focused: the block cursor
            await pilot.press("tab")
            await pilot.pause()
            found["alarms/cursor"] = unreadable(app)
    app.notify("info")
    app.notify("a warning", severity="warning")
    app.notify("an error", severity="error")
    await pilot.pause(0.3)
    found["toasts"] = unreadable(app)
    app.clear_notifications()
    steps = {
        "help": ["question_mark"],
        "setpoint": ["escape", "p"],
        "palette": ["escape", "ctrl+p"],
        "palette/search": ["s", "c", "e", "n"],
        "shelve": ["escape", "escape", "5", "s"],
    }
    for name, keys in steps.items():
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.3)
        found[name] = unreadable(app)
    return found


@pytest.mark.parametrize("theme", [LIGHT, DARK])
def test_every_character_on_screen_is_readable(theme: str) -> None:
    import asyncio

    from twin.runtime import frozen_source

    async def run() -> dict[str, list]:
        app = TwinApp(frozen_source(), tick_s=None, theme=theme)  # a utility loss
        async with app.run_test(size=(120, 40)) as pilot:
            return await rendered_screens(app, pilot)

    found = asyncio.run(run())
    assert {"help", "setpoint", "palette/search", "shelve", "racks"} <= set(found)
    bad = {name: runs for name, runs in found.items() if runs}
    assert not bad, (theme, bad)


def test_the_start_up_screen_is_readable() -> None:
    import asyncio
    import threading

    from twin.tui.startup import Startup

    from .screens import starting_source

    async def run(theme: str) -> list:
        release = threading.Event()

        def begin():
            release.wait(60)
            return starting_source()

        startup = Startup("aidc-10mw", begin, lambda: ("site aidc-10mw · building",), lambda: False)
        app = TwinApp(startup=startup, tick_s=0.2, theme=theme)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.3)
            try:
                return unreadable(app)
            finally:
                release.set()

    for theme in (LIGHT, DARK):
        assert not asyncio.run(run(theme)), theme


def test_the_screen_check_finds_textuals_own_light_colours() -> None:
    # Textual's tabs, footer keys and placeholder as they are, without twin.tcss:
    # what the dashboard drew before its overrides (3.0, 2.9 and 2.5:1).
    import asyncio

    from textual.app import App
    from textual.widgets import Footer, Input, Tabs

    class Plain(App[None]):
        BINDINGS = [("q", "quit", "Quit")]  # noqa: RUF012

        def compose(self):
            yield Tabs("1 Overview", "2 Power")
            yield Input(placeholder="new value [°C]")
            yield Footer()

    async def run() -> list:
        app = Plain()
        app.theme = LIGHT
        async with app.run_test(size=(80, 10)) as pilot:
            await pilot.pause()
            return unreadable(app)  # type: ignore[arg-type]

    texts = {text for *_, text in asyncio.run(run())}
    assert {"2 Power", "q", "new value [°C]"} <= texts, texts

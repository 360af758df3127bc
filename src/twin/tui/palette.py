"""The dashboard's state colours, one set per theme, every one readable on its background.

Textual's own ``$warning`` (#FEA62B) and ``$success`` read well on the dark theme and
nearly vanish on the light one (1.5:1 and 1.8:1 on #E0E0E0), and Rich's named
``yellow``/``cyan`` are worse (1.2:1, 1.05:1). Each colour here clears WCAG 2.x
contrast 4.5:1 (text, success criterion 1.4.3) on the theme's background, surface and
panel; ``tests/tui/test_contrast.py`` checks it, and every foreground/background pair
of ``twin.tcss``, in both themes.

The colours reach the CSS as variables (``$twin-ok``…, see
:meth:`twin.tui.app.TwinApp.get_theme_variable_defaults`) and Static markup as
``[$twin-warn]``; table cells (Rich ``Text``) take them from :func:`palette`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Palette:
    ok: str
    warn: str
    alarm: str
    info: str  # low-priority alarms, informative marks
    muted: str  # off, never read, dimmed text
    urgent_fg: str
    urgent_bg: str  # urgent alarms and the flood banner: reversed, the loudest

    def variables(self) -> dict[str, str]:
        """The palette as CSS variables (``twin-ok``, ``twin-warn``…)."""
        return {
            "twin-ok": self.ok,
            "twin-warn": self.warn,
            "twin-alarm": self.alarm,
            "twin-info": self.info,
            "twin-muted": self.muted,
            "twin-urgent-fg": self.urgent_fg,
            "twin-urgent-bg": self.urgent_bg,
        }


DARK_PALETTE = Palette(
    ok="#5FD38A",
    warn="#FFC473",
    alarm="#FF6B6B",
    info="#6CC4FF",
    muted="#A0A0A0",
    urgent_fg="#FFFFFF",
    urgent_bg="#B3261E",
)
LIGHT_PALETTE = Palette(
    ok="#145A2A",
    warn="#7A4B00",
    alarm="#A8001C",
    info="#00558A",
    muted="#505050",
    urgent_fg="#FFFFFF",
    urgent_bg="#A8001C",
)


def palette(dark: bool) -> Palette:
    return DARK_PALETTE if dark else LIGHT_PALETTE


def contrast(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio of two ``#RRGGBB`` colours (1 … 21).

    Relative luminance per WCAG 2.x (sRGB linearised, 0.2126 R + 0.7152 G + 0.0722 B);
    ratio (L1 + 0.05) / (L2 + 0.05), L1 the lighter.

    >>> round(contrast("#000000", "#FFFFFF"), 1)
    21.0
    """

    def luminance(colour: str) -> float:
        channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)

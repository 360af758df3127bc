"""A DataTable that applies a new set of rows by updating only the cells that changed.

Textual's own ``add_row`` and ``update_cell`` are per-cell public paths with a per-call
cost that a 3,000-row list cannot afford in one frame: every ``add_row`` sets the cursor
reactive, and on the next idle the table measures every cell through Rich (markup
parse, console options) to size its columns; every ``update_cell`` invalidates every
render cache, so one changed cell re-renders every visible cell, each through Rich's
Padding (~85 µs). On aidc-100mw that made the first opening of the Devices view block
the UI for 0.4 s and a tick on it cost ~100 ms.

:class:`LiveTable` keeps DataTable for what it draws (header, cursor, scrolling, mouse,
themes: pixels unchanged) and feeds it differently:

* a new set or order of rows is loaded into its row store in one pass, the column
  widths measured here (plain strings by length, the number Rich's measurement gives);
* otherwise a tick formats, diffs and writes only the rows on screen (the others when
  scrolled to or read through the DataTable API), as one batch with one repaint;
* a cell is drawn again only when its value changed, and a plain one-line cell is drawn
  straight to the segments DataTable's Rich pipeline gives it (~7 µs);
* DataTable's own per-tick caches are cut to a screenful (their dead renders made the
  GC's full collections long).

What this touches of DataTable's internals (``_data``, ``rows``, ``_row_locations``,
``columns[…].content_width``, ``_update_count``, ``_render_cell``, ``_y_offsets``, its
caches) is pinned by ``tests/tui/test_pilot.py``, which compares every drawn line, text
and style, with what a plain DataTable fed through ``add_row``/``update_cell`` draws.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich._emoji_replace import _emoji_replace
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.render import measure
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey, Row, RowKey, default_cell_formatter

Cell = str | Text
CACHE_LINES = 256  # DataTable's line, row and row-renderable caches: a tall screen's rows
CACHE_CELLS = 2048  # its cell cache: those rows' cells


class LiveTable(DataTable):
    """Rows keyed by a stable id; :meth:`apply` diffs against what is shown."""

    DEFAULT_CSS = """
    LiveTable { height: 1fr; }
    """

    def __init__(
        self,
        columns: Sequence[str],
        min_widths: dict[str, int] | None = None,
        **kwargs: object,
    ) -> None:
        self._min_widths = dict(min_widths or {})
        self._rows_version = 0  # bumped when rows are loaded: keys the line → row map
        self._offsets_of: tuple[int, int] | None = None
        self._offsets: list[tuple[RowKey, int]] = []
        # (row, column, style, cursor…) → (the cell value rendered, its lines): a cell
        # is drawn again only when its value object changed (see _render_cell).
        self._cell_lines: dict[tuple, tuple[object, list]] = {}
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._column_names = list(columns)
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self._row_keys: dict[str, RowKey] = {}
        self._markup_widths: dict[str, int] = {}
        self.cells_updated = 0  # for tests and the bench: cells written by the last apply
        # DataTable's render caches are keyed on its update counter, which every tick
        # bumps: at their default sizes (1,000 lines, 10,000 cells) they hold some twenty
        # ticks of dead renders, long-lived enough to reach the GC's oldest generation
        # and make every full collection longer. A screenful each is enough here (cells
        # are kept across ticks by _cell_lines).
        self._cell_render_cache = LRUCache(CACHE_CELLS)
        self._row_render_cache = LRUCache(CACHE_LINES)
        self._line_cache = LRUCache(CACHE_LINES)
        self._row_renderable_cache = LRUCache(CACHE_LINES)
        # Rows of the last apply not yet written (same keys as shown): row i is up to
        # date when _row_version[i] == _version.
        self._pending: list[tuple[str, Any]] = []
        self._format: Callable[[Any], tuple[Cell, ...]] | None = None
        self._version = 0
        self._row_version: list[int] = []

    def on_mount(self) -> None:
        for name in self._column_names:
            # A column whose values change length in place (an alarm's state) is as
            # wide as its widest value from the start: widths grow only on a reload.
            self.add_column(name, key=name, width=None)
            if name in self._min_widths:
                column = self.columns[ColumnKey(name)]
                column.content_width = max(column.content_width, self._min_widths[name])

    def invalidate(self) -> None:
        """Load every row again on the next :meth:`apply` (styles changed, not values:
        Rich's ``Text`` equality ignores style, so the diff would keep the old cells)."""
        self._order = []

    def apply(
        self,
        rows: Sequence[tuple[str, Any]],
        cells: Callable[[Any], tuple[Cell, ...]] | None = None,
    ) -> None:
        """Show ``rows`` (key, item); ``cells(item)`` gives a row's cells (default: the
        item is its cells). A new set or order of keys is loaded at once; otherwise only
        the rows on screen are formatted and diffed now, the others when scrolled to
        (or read through the DataTable API): a tick costs what is visible."""
        keys = [k for k, _ in rows]
        if keys != self._order:
            formatted = [(k, item if cells is None else cells(item)) for k, item in rows]
            self._load(keys, formatted)
            self._pending = []
            self.cells_updated = sum(len(c) for _, c in formatted)
            return
        self._pending = list(rows)
        self._format = cells
        self._version += 1
        self.cells_updated = 0
        top = self.scroll_offset.y
        self._flush(top, top + self.size.height, repaint=True)

    def _flush(self, start: int, stop: int, repaint: bool = False) -> None:
        """Write the pending rows in ``[start, stop)`` that changed into the store."""
        pending = self._pending
        if not pending:
            return
        version = self._version
        done = self._row_version
        fmt = self._format
        shown = self._shown
        data = self._data
        row_keys = self._row_keys
        column_keys = [column.key for column in self.ordered_columns]
        updated = 0
        for i in range(max(start, 0), min(stop, len(pending))):
            if done[i] == version:
                continue
            done[i] = version
            key, item = pending[i]
            cells = item if fmt is None else fmt(item)
            old = shown[key]
            if old == cells:
                continue
            stored = data[row_keys[key]]
            for column_key, a, b in zip(column_keys, old, cells, strict=True):
                if a != b:
                    stored[column_key] = b
                    updated += 1
            shown[key] = cells
        if updated:
            # What update_cell(update_width=False) does per cell, once for the batch.
            self._update_count += 1
            if repaint:
                self.refresh()
        self.cells_updated += updated

    def flush(self) -> None:
        """Bring every row up to date (before reading cells through the DataTable API)."""
        self._flush(0, len(self._pending))

    def render_lines(self, crop: Region) -> list[Strip]:
        top = self.scroll_offset.y  # rows scrolled into view since the last tick
        self._flush(top + crop.y - 1, top + crop.bottom)
        return super().render_lines(crop)

    def _flush_key(self, row_key: RowKey | str) -> None:
        index = self._row_locations.get(row_key)  # type: ignore[arg-type]
        if index is not None:
            self._flush(index, index + 1)

    def get_cell(self, row_key: RowKey | str, column_key: ColumnKey | str) -> Any:
        self._flush_key(row_key)
        return super().get_cell(row_key, column_key)

    def get_cell_at(self, coordinate: Coordinate) -> Any:
        self._flush(coordinate.row, coordinate.row + 1)
        return super().get_cell_at(coordinate)

    def get_row(self, row_key: RowKey | str) -> list[Any]:
        self._flush_key(row_key)
        return super().get_row(row_key)

    def get_row_at(self, row_index: int) -> list[Any]:  # DataTable's rendering reads this
        self._flush(row_index, row_index + 1)
        return super().get_row_at(row_index)

    def get_column(self, column_key: ColumnKey | str) -> Iterable[Any]:
        self.flush()
        return super().get_column(column_key)

    def get_column_at(self, column_index: int) -> Iterable[Any]:
        self.flush()
        return super().get_column_at(column_index)

    def _load(self, keys: list[str], rows: list[tuple[str, tuple[Cell, ...]]]) -> None:
        """Replace every row (what ``clear`` then ``add_row`` per row does), in one pass."""
        selected = self.selected_key
        self.clear()
        columns = self.ordered_columns
        column_keys = [column.key for column in columns]
        row_keys = {key: RowKey(key) for key in keys}
        data = self._data
        meta = self.rows
        for key, cells in rows:
            row_key = row_keys[key]
            data[row_key] = dict(zip(column_keys, cells, strict=True))
            meta[row_key] = Row(row_key, 1)
        self._row_locations = TwoWayDict({row_keys[k]: i for i, k in enumerate(keys)})
        self._cell_lines.clear()  # row indices (in the cells' mouse meta) and widths moved
        self._rows_version += 1
        self._row_keys = row_keys
        # Column widths as the idle-time measurement of each new row would set them
        # (widths only grow: clear() keeps the columns and their widths).
        for index, column in enumerate(columns):
            widest = self._column_width([cells[index] for _, cells in rows])
            column.content_width = max(column.content_width, widest)
        self._require_update_dimensions = True  # virtual size, on idle (no new rows to measure)
        self._update_count += 1
        self._order = keys
        self._shown = dict(rows)
        self._row_version = [self._version] * len(keys)
        self.check_idle()
        if keys:
            self._highlight_cursor()  # as add_row does for the first row of an empty table
        if selected in row_keys:
            self.move_cursor(row=keys.index(selected), animate=False)

    def _column_width(self, values: list[Cell]) -> int:
        """The widest of ``values`` as :meth:`_width` measures, a column at a time."""
        texts = [v for v in values if type(v) is not str]
        strings = [v for v in values if type(v) is str]
        widest = max(map(self._width, {id(t): t for t in texts}.values()), default=0)
        if not strings:
            return widest
        joined = " ".join(strings)  # :emoji: codes hold no space: none spans two cells
        if "[" in joined or "\n" in joined or _emoji_replace(joined) != joined:
            return max(widest, *map(self._width, strings))  # markup somewhere: cell by cell
        if joined.isascii():
            return max(widest, *map(len, strings))
        return max(widest, *map(cell_len, strings))

    def _width(self, cell: Cell) -> int:
        """The cell's width as DataTable measures it (``measure(default_cell_formatter)``)."""
        if isinstance(cell, Text):
            plain = cell.plain
            return cell_len(plain) if "\n" not in plain else measure(self.app.console, cell, 1)
        if "[" not in cell and "\n" not in cell and cell.count(":") < 2:
            return cell_len(cell)  # no markup tag, no :emoji: code: the plain text
        width = self._markup_widths.get(cell)
        if width is None:
            renderable = default_cell_formatter(cell, wrap=False, height=1)
            width = self._markup_widths[cell] = measure(self.app.console, renderable, 1)
            if len(self._markup_widths) > 10_000:
                self._markup_widths.clear()
        return width

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """DataTable's cell, drawn again only when that cell's value changed.

        DataTable keys its cell cache on a table-wide update counter, so one changed
        cell re-renders every visible cell (through Rich's Padding: the bulk of a tick
        on a 3,000-row table where one column changes). Here the key is the cell and
        its look, and a hit must hold the very value object now stored for it.
        """
        if column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        column_key = self._column_locations.get_key(column_index)
        if row_index < 0:
            row_key: object = self._header_row_key
            value: object = self.columns[column_key].label
        else:
            row_key = self._row_locations.get_key(row_index)
            value = self._data[row_key].get(column_key)  # type: ignore[index]
        key = (
            row_key,
            column_key,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        hit = self._cell_lines.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        lines = None
        if row_index >= 0:
            lines = self._render_plain_cell(
                value, row_index, column_index, base_style, width, cursor, hover
            )
        if lines is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        if len(self._cell_lines) > 50_000:
            self._cell_lines.clear()
        self._cell_lines[key] = (value, lines)
        return lines

    def _render_plain_cell(
        self,
        value: object,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool,
        hover: bool,
    ) -> list[list[Segment]] | None:
        """A one-line plain cell drawn without Rich's Padding and line machinery, to the
        same segments (what DataTable's ``_render_cell`` makes of it, checked by
        tests/tui/test_pilot.py); None for anything else (markup, spans, tabs…)."""
        if type(value) is str:
            plain, text_style = value, None
            if "[" in plain or _emoji_replace(plain) != plain:
                return None
        elif isinstance(value, Text) and not value.spans and value.justify is None:
            plain = value.plain
            if value.overflow not in (None, "fold", "crop"):
                return None
            text_style = self.app.console.get_style(value.style) if value.style else None
        else:
            return None
        if not plain or "\n" in plain or "\t" in plain or plain[-1].isspace():
            return None
        if row_index < self.fixed_rows or column_index < self.fixed_columns:
            return None
        component_style, post_style = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index})
        pre = pre + component_style
        pad = self.cell_padding
        inner = width - 2 * pad
        if inner < 1:
            return None
        length = cell_len(plain)
        if length > inner:
            plain, length = set_cell_size(plain, inner), inner
        outer = pre + post_style if pre else post_style
        styled = pre + text_style if text_style is not None else pre
        styled = styled + post_style if styled else post_style
        line = [Segment(" " * pad, outer)] if pad else []
        line.append(Segment(plain, styled))
        rest = inner - length + pad
        if rest:
            line.append(Segment(" " * rest, outer))
        return [line]

    def _clear_caches(self) -> None:
        super()._clear_caches()  # clear(), cursor, header, padding… changes
        self._cell_lines.clear()
        self._offsets_of = None

    @property
    def _y_offsets(self) -> list[tuple[RowKey, int]]:
        """DataTable's line → row map, rebuilt when rows come or go, not on every tick
        (DataTable keys it on the update counter: 3,000 entries again per changed cell
        batch, for every line it draws)."""
        of = (self._rows_version, self.row_count)
        if self._offsets_of != of:
            self._offsets = DataTable._y_offsets.fget(self)  # type: ignore[attr-defined]
            self._offsets_of = of
        return self._offsets

    def notify_style_update(self) -> None:
        super().notify_style_update()  # theme or CSS: component styles are not in the key
        self._cell_lines.clear()

    @property
    def selected_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

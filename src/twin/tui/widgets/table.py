"""A DataTable that applies a new set of rows by updating only the cells that changed.

Textual's own ``add_row`` and ``update_cell`` are per-cell public paths with a per-call
cost that a 3,000-row list cannot afford in one frame: every ``add_row`` sets the cursor
reactive, and on the next idle the table measures every cell through Rich (markup
parse, console options) to size its columns; every ``update_cell`` invalidates every
render cache and schedules a repaint. On aidc-100mw that made the first opening of the
Devices view block the UI for a third of a second.

:class:`LiveTable` keeps DataTable for what it draws (header, cursor, scrolling, mouse,
themes: pixels unchanged) and fills its row store directly: a new set of rows is
loaded in one pass with the column widths measured here (plain strings by
``cell_len``, the same number Rich's measurement gives), and changed cells are written
in one batch with a single cache invalidation and repaint. What these touch of
DataTable's internals (``_data``, ``rows``, ``_row_locations``, ``columns[…].
content_width``, ``_update_count``) is pinned by ``tests/tui/test_model.py``, which
compares the result against the public ``add_row``/``update_cell`` path.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.render import measure
from textual.widgets import DataTable
from textual.widgets._data_table import Row, RowKey, default_cell_formatter

Cell = str | Text


class LiveTable(DataTable):
    """Rows keyed by a stable id; :meth:`apply` diffs against what is shown."""

    DEFAULT_CSS = """
    LiveTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[str], **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._column_names = list(columns)
        self._shown: dict[str, tuple[Cell, ...]] = {}
        self._order: list[str] = []
        self._row_keys: dict[str, RowKey] = {}
        self._markup_widths: dict[str, int] = {}
        # (row, column, style, cursor…) → (the cell value rendered, its lines): a cell
        # is drawn again only when its value object changed (see _render_cell).
        self._cell_lines: dict[tuple, tuple[object, list]] = {}
        self.cells_updated = 0  # for tests and the bench: cells written by the last apply

    def on_mount(self) -> None:
        for name in self._column_names:
            self.add_column(name, key=name)

    def apply(self, rows: Sequence[tuple[str, tuple[Cell, ...]]]) -> None:
        """Show ``rows`` (key, cells): same keys in the same order → only changed cells."""
        keys = [k for k, _ in rows]
        if keys != self._order:
            self._load(keys, rows)
            self.cells_updated = sum(len(c) for _, c in rows)
            return
        updated = 0
        shown = self._shown
        data = self._data
        row_keys = self._row_keys
        column_keys = [column.key for column in self.ordered_columns]
        for key, cells in rows:
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
            self.refresh()
        self.cells_updated = updated

    def _load(self, keys: list[str], rows: Sequence[tuple[str, tuple[Cell, ...]]]) -> None:
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
        self._row_keys = row_keys
        # Column widths as the idle-time measurement of each new row would set them
        # (widths only grow: clear() keeps the columns and their widths).
        for index, column in enumerate(columns):
            widest = max((self._width(cells[index]) for _, cells in rows), default=0)
            column.content_width = max(column.content_width, widest)
        self._require_update_dimensions = True  # virtual size, on idle (no new rows to measure)
        self._update_count += 1
        self._order = keys
        self._shown = dict(rows)
        self.check_idle()
        if keys:
            self._highlight_cursor()  # as add_row does for the first row of an empty table
        if selected in row_keys:
            self.move_cursor(row=keys.index(selected), animate=False)

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
        lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        if len(self._cell_lines) > 50_000:
            self._cell_lines.clear()
        self._cell_lines[key] = (value, lines)
        return lines

    def _clear_caches(self) -> None:
        super()._clear_caches()  # clear(), cursor, header, padding… changes
        self._cell_lines.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()  # theme or CSS: component styles are not in the key
        self._cell_lines.clear()

    @property
    def selected_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

"""A DataTable that applies a new set of rows by updating only the cells that changed."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

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
        self.cells_updated = 0  # for tests and the bench: cells written by the last apply

    def on_mount(self) -> None:
        for name in self._column_names:
            self.add_column(name, key=name)

    def apply(self, rows: Sequence[tuple[str, tuple[Cell, ...]]]) -> None:
        """Show ``rows`` (key, cells): same keys in the same order → only changed cells."""
        keys = [k for k, _ in rows]
        updated = 0
        if keys != self._order:
            selected = self.selected_key
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            updated = sum(len(c) for _, c in rows)
            self._order = keys
            self._shown = dict(rows)
            if selected in self._shown:
                self.move_cursor(row=self.get_row_index(selected), animate=False)
        else:
            for key, cells in rows:
                old = self._shown[key]
                if old == cells:
                    continue
                for column, (a, b) in enumerate(zip(old, cells, strict=True)):
                    if a != b:
                        self.update_cell(key, self._column_names[column], b)
                        updated += 1
                self._shown[key] = cells
        self.cells_updated = updated

    @property
    def selected_key(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

"""A site's power and cooling trees: :mod:`twin.tui.trees` applied to a whole registry.

:class:`SiteTrees` lays every device out once (at start), groups the shown devices by
shape into :class:`~twin.tui.rows.RowGroup`\\ s, and per tick turns the latest values,
the alarm engine's levels per device and the metrics' systems into the two lists
of rows the Power and Cooling views show.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twin.points.registry import PointDef
from twin.tui.records import TreeRow
from twin.tui.rows import (
    RowGroup,
    display_step,
    field_of,
    fmt_value,
    label_of,
    value_formatter,
)
from twin.tui.trees import (
    COLLAPSE_OVER,
    DeviceLayout,
    Node,
    counts_text,
    device_formatter,
    find_parents,
    layout_device,
    walk,
    worst,
)

Summary = Callable[[list[TreeRow]], TreeRow]


class SiteTrees:
    """The trees of one registry; :meth:`rows` per tick."""

    def __init__(
        self,
        by_device: dict[str, list[PointDef]],
        index: dict[str, int],
        nan_slot: int,
        site: str,
        roots: dict[str, Summary],
    ) -> None:
        self.index = index
        self.nan_slot = nan_slot
        self.ext = np.full(nan_slot + 1, np.nan)
        self.systems: dict[str, dict] = {}
        self.layouts = {d: layout_device(pts, site) for d, pts in by_device.items()}
        find_parents(self.layouts)
        self.device_number = {d: i for i, d in enumerate(by_device)}
        self.levels = np.zeros(len(by_device))  # alarm level per device this tick
        self.runtime = np.full(len(by_device), np.nan)  # battery runtime [min] this tick
        self.depth_of: dict[str, int] = {}
        self._shown: dict[str, None] = {}  # devices drawn as rows (ordered)
        self._top: set[str] = set()  # devices drawn under a heading, not under a device
        self.roots = {tree: self._tree(tree, summary) for tree, summary in roots.items()}
        self._build_groups()

    # ------------------------------------------------------------- layout

    def _idx(self, devices: list[str], fields: list[str]) -> np.ndarray:
        get, nan = self.index.get, self.nan_slot
        return np.array(
            [[get(f"{d}.{f}", nan) if f else nan for f in fields] for d in devices],
            dtype=np.int64,
        ).reshape(len(devices), len(fields))

    @staticmethod
    def _fields(layout: DeviceLayout) -> list[str]:
        cols = [layout.primary, layout.pct, *layout.details, *(p for p, _ in layout.bits)]
        return ["" if p is None else field_of(p) for p in cols]

    def _tree(self, tree: str, root: Summary) -> Node:
        members = {d: lay for d, lay in self.layouts.items() if tree in lay.trees}
        children: dict[str, list[str]] = {}
        top: list[str] = []
        for d, lay in members.items():
            if lay.parent is not None and lay.parent in members:
                children.setdefault(lay.parent, []).append(d)
            else:
                top.append(d)
        self._top.update(top)
        areas: dict[str, dict[str, list[str]]] = {}
        for d in top:
            lay = members[d]
            areas.setdefault(lay.area, {}).setdefault(lay.bucket, []).append(d)

        def device_node(d: str, depth: int) -> Node:
            self._shown[d] = None
            self.depth_of[d] = depth
            parent = members[d].parent
            label = d.removeprefix(f"{parent}-") if d not in top and parent else d
            node = Node(d, depth, label)
            node.children = [device_node(c, depth + 1) for c in children.get(d, [])]
            return node

        area_nodes = []
        for area, buckets in areas.items():
            bucket_nodes = []
            for bucket, devices in buckets.items():
                key = f"{tree}:{area}:{bucket}"
                lay = members[devices[0]]
                if len(devices) == 1 and not lay.system:  # a heading over one line says nothing
                    bucket_nodes.append(device_node(devices[0], 2))
                    continue
                if len(devices) > COLLAPSE_OVER and not lay.system:
                    bucket_nodes.append(
                        Node(key, 2, bucket, collapsed=self._collapsed(key, bucket, devices))
                    )
                    continue
                node = Node(key, 2, bucket, summary=self._bucket(key, bucket, devices, lay))
                node.children = [device_node(d, 3) for d in devices]
                bucket_nodes.append(node)
            n = sum(len(ds) for ds in buckets.values())
            key = f"{tree}:{area}"
            area_nodes.append(
                Node(key, 1, area, children=bucket_nodes, summary=self._area(key, area, n))
            )
        return Node(tree, 0, tree, children=area_nodes, summary=root)

    def _build_groups(self) -> None:
        shapes: dict[tuple, list[str]] = {}
        for d in self._shown:
            shapes.setdefault(self.layouts[d].shape, []).append(d)
        self.groups: list[tuple[RowGroup, np.ndarray]] = []
        where: dict[str, tuple[RowGroup, int]] = {}
        for devices in shapes.values():
            first = self.layouts[devices[0]]
            labels = []
            for d in devices:
                parent = self.layouts[d].parent
                nested = (
                    parent is not None
                    and self.layouts[parent].name in self._shown
                    and d not in self._top
                )
                labels.append(d.removeprefix(f"{parent}-") if nested else d)
            steps = [display_step(first.primary.unit) if first.primary else "exact", "one"]
            steps += [display_step(p.unit) for p in first.details]
            group = RowGroup(
                devices,
                labels,
                self._idx(devices, self._fields(first)),
                device_formatter(first, self.depth_of),
                steps,
            )
            numbers = np.array([self.device_number[d] for d in devices], dtype=np.int64)
            self.groups.append((group, numbers))
            for i, d in enumerate(devices):
                where[d] = (group, i)

        def attach(node: Node) -> None:
            if node.key in where and node.summary is None and node.collapsed is None:
                node.group, node.row = where[node.key]
            for child in node.children:
                attach(child)

        for root in self.roots.values():
            attach(root)

    # ---------------------------------------------------------- headings

    def _primary_idx(self, devices: list[str]) -> np.ndarray:
        return np.array(
            [
                self.layouts[d].primary.index  # type: ignore[union-attr]
                for d in devices
                if self.layouts[d].primary is not None and self.layouts[d].primary.unit == "kW"  # type: ignore[union-attr]
            ],
            dtype=np.int64,
        )

    def _load(self, idx: np.ndarray) -> str:
        if not len(idx):
            return ""
        values = self.ext[idx]
        seen = values[~np.isnan(values)]
        return fmt_value(float(seen.sum()), "kW") if len(seen) else "—"

    def _bucket(self, key: str, bucket: str, devices: list[str], lay: DeviceLayout) -> Summary:
        primary = self._primary_idx(devices)
        noun = "units" if lay.system else (lay.equipment if len(devices) == 1 else "devices")

        def summary(children: list[TreeRow]) -> TreeRow:
            detail, state, pct = counts_text(children, noun), worst(children), None
            info = self.systems.get(bucket) if lay.system else None
            if info is not None and state != "no data":
                # Redundancy and headroom as the metrics judge them, only when they
                # could judge (a capacity, good inputs): never a made-up 0 kW.
                if info["quality"] == "good" and info["capacity_kw"] > 0:
                    headroom = fmt_value(info["headroom_kw"], "kW")
                    detail = f"{info['redundancy']} · headroom {headroom} · {detail}"
                    pct = 100 * info["load_kw"] / info["capacity_kw"]
                else:
                    detail = f"redundancy {info['redundancy']} ({info['quality']}) · {detail}"
                if info["redundancy"] in ("N", "overloaded") and state == "ok":
                    state = "warn"
            label = bucket if lay.system else f"{bucket} ({len(devices)})"
            return TreeRow(key, 2, label, self._load(primary), pct, detail, state)

        return summary

    def _area(self, key: str, area: str, n: int) -> Summary:
        def summary(children: list[TreeRow]) -> TreeRow:
            state = worst(children)
            flagged = [r.label for r in children if r.state in ("alarm", "warn")]
            detail = f"{n} devices" + (f" · attention: {', '.join(flagged)}" if flagged else "")
            return TreeRow(key, 1, area, "", None, detail, state)

        return summary

    def _collapsed(self, key: str, bucket: str, devices: list[str]) -> Callable[[], TreeRow]:
        """A class too many to list (racks): its total, its hottest readings, its trouble."""
        first = self.layouts[devices[0]]
        fields = self._fields(first)
        idx = self._idx(devices, fields)
        numbers = np.array([self.device_number[d] for d in devices], dtype=np.int64)
        n_details = len(first.details)
        hot = [
            (2 + j, label_of(field_of(p)), p.unit)
            for j, p in enumerate(first.details)
            if p.unit == "degC"
        ][:3]
        faults = [2 + n_details + j for j, (_, kind) in enumerate(first.bits) if kind == "fault"]
        warns = [2 + n_details + j for j, (_, kind) in enumerate(first.bits) if kind == "warn"]
        has_primary = first.primary is not None and first.primary.unit == "kW"
        label = f"{bucket} ({len(devices)})"

        hot_cols = [col for col, _, _ in hot]
        hot_words = [(f"max {text} ", value_formatter(unit)) for _, text, unit in hot]
        total = value_formatter("kW")

        def row() -> TreeRow:
            m = self.ext[idx]
            seen = ~np.isnan(m)
            if not seen.any():
                return TreeRow(key, 2, label, "—", None, "no reading yet", "no data")
            levels = self.levels[numbers]
            faulted = (m[:, faults] > 0.5).any(axis=1) | (levels >= 2)
            warned = ((m[:, warns] > 0.5).any(axis=1) | (levels >= 1)) & ~faulted
            parts = [f"{len(devices)} devices"]
            if hot_cols:  # fmax ignores NaN: a column never read stays NaN
                for (words, value), x in zip(
                    hot_words, np.fmax.reduce(m[:, hot_cols], axis=0).tolist(), strict=True
                ):
                    if x == x:
                        parts.append(words + value(x))
            n_faulted, n_warned = int(faulted.sum()), int(warned.sum())
            if n_faulted:
                parts.append(f"{n_faulted} alarm")
            if n_warned:
                parts.append(f"{n_warned} warn")
            state = "alarm" if n_faulted else "warn" if n_warned else "ok"
            load = ""
            if has_primary and seen[:, 0].any():
                load = total(float(m[seen[:, 0], 0].sum()))
            return TreeRow(key, 2, label, load, None, " · ".join(parts), state)

        return row

    # ------------------------------------------------------------ per tick

    def rows(self, ext: np.ndarray) -> dict[str, tuple[TreeRow, ...]]:
        """Both trees' rows for this tick (``ext``: values with a trailing NaN slot)."""
        self.ext = ext
        rows_of = {}
        for group, numbers in self.groups:
            extra = np.column_stack([self.levels[numbers], self.runtime[numbers]])
            rows_of[id(group)] = group.rows(ext, extra)
        out: dict[str, tuple[TreeRow, ...]] = {}
        for tree, root in self.roots.items():
            lines: list[TreeRow] = []
            walk(root, rows_of, lines)
            out[tree] = tuple(lines)
        return out

"""Disclosure control: primary and secondary suppression over cells linked by published sums
(see :mod:`handoff.records.reports.service`)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from handoff.records.reports.data import PRIMARY, SECONDARY, THRESHOLD

# ------------------------------------------------------------------------------------ suppression

CellId = tuple[Hashable, ...]


class Suppressor:
    """Primary and secondary suppression over cells linked by published sums ("lines")."""

    def __init__(self, threshold: int = THRESHOLD) -> None:
        self.threshold = threshold
        self.values: dict[CellId, int] = {}
        self.lines: list[list[CellId]] = []

    def cell(self, cid: CellId, value: int) -> CellId:
        self.values[cid] = value
        return cid

    def line(self, cells: Iterable[CellId]) -> None:
        members = list(cells)
        if members:
            self.lines.append(members)

    def solve(self) -> dict[CellId, int | str]:
        """Cells below the threshold are hidden; then, while some published sum leaves exactly one
        cell unknown, that cell is either zero (nobody to protect: it may be worked out, and is then
        known in every other sum too) or the smallest other cell of the sum is hidden as well."""
        status: dict[CellId, str | None] = {
            cid: (PRIMARY if v < self.threshold else None) for cid, v in self.values.items()
        }
        deducible: set[CellId] = set()
        changed = True
        while changed:
            changed = False
            for line in self.lines:
                unknown = [c for c in line if status[c] is not None and c not in deducible]
                if len(unknown) != 1:
                    continue
                if self.values[unknown[0]] == 0:
                    deducible.add(unknown[0])
                    changed = True
                    continue
                shown = [c for c in line if status[c] is None]
                if not shown:
                    continue
                pick = min(shown, key=lambda c: (self.values[c], str(c)))
                status[pick] = SECONDARY
                changed = True
        return {cid: (s if s is not None else self.values[cid]) for cid, s in status.items()}


def published(value: int | str) -> int | None:
    return value if isinstance(value, int) else None

"""How the page draws a model's grid over the image it saw: the lines, which cells carry a
tokens label, and the sum in words. Pure: no Django, no I/O.

A LogImage's grid is {kind: "tiles"|"patches", cols, rows, cell, tokens_per_cell,
base_tokens} in the seen image's pixels (gateway/vision.py Grid).
"""

import math
from dataclasses import dataclass
from typing import Any

LABEL_CELLS = 64  # past this many cells, no label per cell (patches): the count says it
MIN_LABEL_PX = 28  # nor when a cell is drawn narrower than this many CSS px
MAX_LINES = 600  # past this many lines the grid would be a solid mesh: none drawn
FONT_PX = 13  # a label's size on screen


@dataclass(frozen=True)
class Drawing:
    """A grid as SVG in the seen image's pixels (its viewBox is width×height)."""

    kind: str
    cols: int
    rows: int
    width: int
    height: int
    xs: tuple[float, ...]  # vertical lines
    ys: tuple[float, ...]  # horizontal lines
    labels: tuple[tuple[float, float], ...]  # the centre of each labelled cell's visible part
    label: str  # the tokens of one cell, e.g. "170"
    font: float  # the labels' size, in seen pixels

    @property
    def cells(self) -> int:
        return self.cols * self.rows

    @property
    def singular(self) -> str:
        return {"tiles": "tile", "patches": "patch"}.get(self.kind, "cell")


def scale_to_box(width: int, height: int, box: int) -> tuple[int, int]:
    """A displayed size no larger than box×box, keeping the aspect ratio (never enlarged)."""
    scale = min(1.0, box / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def lines(count: int, cell: float, side: int) -> tuple[float, ...]:
    """Where `count` cells of `cell` px split a `side`-px side. Cells of the stated size when
    they cover the side with only the last one cut (OpenAI's 512 px tiles, 32 px patches);
    otherwise equal parts (a rule whose cells are not in seen pixels)."""
    if (count - 1) * cell < side <= count * cell:
        return tuple(float(i * cell) for i in range(1, count))
    return tuple(i * side / count for i in range(1, count))


def draw(grid: dict, width: int, height: int, shown_width: int) -> Drawing | None:
    """The drawing of `grid` over a seen image of width×height px shown shown_width CSS px
    wide; None when the grid is not one Iris can draw."""
    cols, rows = _count(grid.get("cols")), _count(grid.get("rows"))
    cell, per_cell = _number(grid.get("cell")), _number(grid.get("tokens_per_cell"))
    if not (cols and rows and cell and cell > 0 and width > 0 and height > 0):
        return None
    dense = cols + rows - 2 > MAX_LINES
    xs = () if dense else lines(cols, cell, width)
    ys = () if dense else lines(rows, cell, height)
    scale = shown_width / width  # CSS px per seen pixel
    edges_x, edges_y = (0.0, *xs, float(width)), (0.0, *ys, float(height))
    first = min(edges_x[1], edges_y[1])  # a whole cell's side (the last ones may be cut)
    labelled = (
        not dense
        and cols * rows <= LABEL_CELLS
        and per_cell is not None
        and first * scale >= MIN_LABEL_PX
    )
    centres = (
        tuple(
            ((a + b) / 2, (c + d) / 2)
            for c, d in zip(edges_y, edges_y[1:], strict=False)
            for a, b in zip(edges_x, edges_x[1:], strict=False)
        )
        if labelled
        else ()
    )
    return Drawing(
        kind=str(grid.get("kind") or "cells"),
        cols=cols,
        rows=rows,
        width=width,
        height=height,
        xs=xs,
        ys=ys,
        labels=centres,
        label=f"{per_cell:g}" if per_cell is not None else "?",
        font=round(min(FONT_PX / scale, 0.45 * first), 2) if scale > 0 else FONT_PX,
    )


def formula(grid: dict, tokens: int | None) -> str:
    """The tokens in words: "6 tiles × 170 + 85 base = 1,105 tokens"."""
    cols, rows = _count(grid.get("cols")), _count(grid.get("rows"))
    per_cell, base = _number(grid.get("tokens_per_cell")), _number(grid.get("base_tokens"))
    total = f"{tokens:,} tokens" if tokens is not None else "unknown"
    if not (cols and rows) or per_cell is None:
        return total
    cells = cols * rows
    kind = str(grid.get("kind") or "cells")
    if cells == 1:
        kind = {"tiles": "tile", "patches": "patch"}.get(kind, kind)
    sum_ = f"{cells:,} {kind} × {per_cell:g}"
    if base:
        sum_ += f" + {base:g} base"
    return f"{sum_} = {total}"

"""Labels of gamma lines on a spectrum that never overlap: a small deterministic placement.

Each label is written along its line (rotated 90°) and hangs from a height given in axes
coordinates, so rescaling the counts axis does not move it. The lines are taken in order
of energy; each label tries the left side of its line and the right side, hanging from
the top and, where its rendered box (matplotlib's ``Text.get_window_extent``) touches a
label placed before or a box the caller asks to keep clear (a legend, say), sliding down
just below that box; it takes the side where it overlaps nothing and hangs highest,
inside the axes. The same lines on the same axes always give the same places.

Place the labels once the figure's layout is final (a fixed layout, not
``layout="constrained"``, which moves the axes at every draw), then give the data
room below them with :func:`headroom_limit`:

>>> from matplotlib.figure import Figure
>>> fig = Figure(figsize=(8, 4))
>>> ax = fig.add_subplot()
>>> ax.set_xlim(0, 3000)
(0.0, 3000.0)
>>> texts = place_line_labels(ax, [(1592.5, "DEP 1592.5"), (1620.5, "Bi-212 1620.5")])
>>> [t.get_horizontalalignment() for t in texts]  # DEP left of its line, Bi-212 right
['right', 'left']
>>> overlapping_pairs(texts)
[]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.text import Text
from matplotlib.transforms import Bbox, offset_copy

#: points between a label and its line, and between neighbouring labels
LABEL_PAD_POINTS = 1.5

#: the side of its line a label's text sits on (its horizontal alignment)
Side = Literal["left", "right"]
#: each side with the direction it nudges a label off its line, the preferred side first
_SIDES: tuple[tuple[Side, int], ...] = (("right", -1), ("left", 1))


def _padded(box: Bbox, pad: float) -> Bbox:
    return Bbox.from_extents(box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad)


def _overlap_area(a: Bbox, b: Bbox) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(width, 0.0) * max(height, 0.0)


def overlapping_pairs(texts: Sequence[Text]) -> list[tuple[str, str]]:
    """The pairs of ``texts`` whose rendered boxes overlap, as pairs of their strings.

    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> overlapping_pairs([ax.text(0.5, 0.5, "a"), ax.text(0.5, 0.5, "b")])
    [('a', 'b')]
    """
    boxes = [t.get_window_extent() for t in texts]
    return [
        (texts[i].get_text(), texts[j].get_text())
        for i in range(len(texts))
        for j in range(i + 1, len(texts))
        if _overlap_area(boxes[i], boxes[j]) > 0
    ]


def place_line_labels(
    ax: Axes,
    lines: Iterable[tuple[float, str]],
    *,
    top: float = 0.98,
    tiers: int = 6,
    avoid: Sequence[Bbox] = (),
    **text_options,
) -> list[Text]:
    """Write each ``(energy, label)`` of ``lines`` beside its line on ``ax``, no two overlapping.

    ``top`` is the height (axes fraction) the labels hang from; a label that would touch
    one placed before slides down below it, at most ``tiers`` times; ``avoid`` lists
    boxes (display coordinates) no label may touch; ``text_options`` go to ``ax.text``
    (fontsize, colour, ...). Lines outside the x range get no label. A label with no
    free place left takes the place where it overlaps least. Returns the texts in order
    of energy.
    """
    fig = ax.get_figure(root=True)
    assert fig is not None  # axes are made by a figure
    pad = LABEL_PAD_POINTS * fig.dpi / 72.0
    x_low, x_high = sorted(ax.get_xlim())
    lines = sorted((float(e), str(label)) for e, label in lines if x_low <= e <= x_high)
    options = {"fontsize": 7.5, "color": "0.25", **text_options}
    # x in data, y in axes fraction, nudged off the line: a right-aligned text ends just
    # left of its line, a left-aligned one starts just right of it
    beside_line = {
        align: offset_copy(
            ax.get_xaxis_transform(), fig=fig, x=sign * LABEL_PAD_POINTS, units="points"
        )
        for align, sign in _SIDES
    }
    frame = ax.get_window_extent()
    texts = [
        ax.text(e, top, label, rotation=90, va="top", transform=beside_line["right"], **options)
        for e, label in lines
    ]
    taken: list[Bbox] = [_padded(box, pad) for box in avoid]

    def settle(text: Text, align: Side) -> tuple[float, float]:
        """Slide ``text`` down from ``top`` on one side of its line until it is clear of every
        box taken (at most ``tiers`` steps); returns (overlap area left, height reached)."""
        text.set_horizontalalignment(align)
        text.set_transform(beside_line[align])
        y = top
        for _ in range(tiers):
            text.set_y(y)
            box = text.get_window_extent()
            blocking = [other for other in taken if _overlap_area(box, other) > 0]
            if not blocking:
                break
            y -= (box.y1 - min(other.y0 for other in blocking)) / frame.height
        box = text.get_window_extent()
        area = sum(_overlap_area(box, other) for other in taken)
        if box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0:
            area += frame.width * frame.height  # outside the axes: worse than any overlap
        return area, y

    for text in texts:
        # left of the line unless the right side sits higher or overlaps less
        places = {align: settle(text, align) for align, _ in _SIDES}
        align = min(places, key=lambda a: (places[a][0], -places[a][1]))
        settle(text, align)
        taken.append(_padded(text.get_window_extent(), pad))
    return texts


def headroom_limit(ax: Axes, texts: Sequence[Text], data_max: float, low: float) -> float:
    """The upper limit of ``ax``'s y axis that puts ``data_max`` just below the lowest label.

    ``low`` is the lower limit; on a log axis the room is shared out in decades.

    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> headroom_limit(ax, [], 100.0, 0.0)  # no labels: 5 % above the data
    105.0
    """
    frame = ax.get_window_extent()
    floor = min(
        ((t.get_window_extent().y0 - frame.y0) / frame.height for t in texts), default=1.0 / 1.05
    )
    fraction = max(floor - 0.03, 0.2) if texts else floor
    if ax.get_yscale() == "log":
        return 10 ** (math.log10(low) + (math.log10(data_max) - math.log10(low)) / fraction)
    return low + (data_max - low) / fraction

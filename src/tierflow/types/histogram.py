"""Histogram: N-dimensional bin contents with regular or variable axes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import hist
import numpy as np

from .array import Array
from .base import check_library
from .scalar import Scalar
from .struct import Struct


class Axis(Struct):
    """One histogram axis: ``binedges`` (a first/last/step struct or an edge array) and ``closedleft``.

    >>> Axis.regular(0, 10, 2).nbins, Axis.variable([0, 1, 5]).edges.tolist()
    (5, [0.0, 1.0, 5.0])
    """

    def __init__(
        self,
        binedges: Struct | Array,
        closedleft: bool = True,
        attrs: Mapping[str, Any] | None = None,
    ):
        super().__init__({"binedges": binedges, "closedleft": Scalar(bool(closedleft))}, attrs)

    @classmethod
    def regular(
        cls,
        first: float,
        last: float,
        step: float,
        closedleft: bool = True,
        units: str | None = None,
    ) -> Axis:
        """Equal bins of width ``step`` from ``first`` to ``last``."""
        edge_attrs = {"units": units} if units else None
        scalars = {
            k: Scalar(float(v)) for k, v in (("first", first), ("last", last), ("step", step))
        }
        return cls(Struct(scalars, edge_attrs), closedleft)

    @classmethod
    def variable(
        cls,
        edges: Sequence[float] | np.ndarray,
        closedleft: bool = True,
        units: str | None = None,
    ) -> Axis:
        """Bins between consecutive ``edges``."""
        values = np.asarray(edges, dtype=np.float64)
        if values.ndim != 1 or len(values) < 2 or np.any(np.diff(values) <= 0):
            raise ValueError("axis edges must be a rising 1-d array of at least 2 values")
        return cls(Array(values, attrs={"units": units} if units else None), closedleft)

    @property
    def is_range(self) -> bool:
        """True for a regular (first, last, step) axis."""
        return isinstance(self["binedges"], Struct)

    @property
    def closedleft(self) -> bool:
        return bool(self["closedleft"].value)

    @property
    def edges(self) -> np.ndarray:
        """All bin edges."""
        b = self["binedges"]
        if isinstance(b, Struct):
            first, last, step = (float(b[k].value) for k in ("first", "last", "step"))
            return np.linspace(first, last, round((last - first) / step) + 1)
        return b.nda.astype(np.float64)

    @property
    def nbins(self) -> int:
        return len(self.edges) - 1

    @property
    def units(self) -> str | None:
        return self["binedges"].attrs.get("units")


class Histogram(Struct):
    """Bin contents (``weights``) over N axes, as stored in LH5.

    Build it from a ``hist.Hist`` (regular or variable axes) or from weights and a
    binning: ``Axis`` objects, ``(first, last, step)`` tuples or edge arrays.

    >>> h = Histogram(np.array([1.0, 2.0]), [(0, 2, 1)])
    >>> h.view_as("hist").values().tolist(), h.form_datatype()
    ([1.0, 2.0], 'struct{binning,isdensity,weights}')
    """

    def __init__(
        self,
        weights: hist.Hist | np.ndarray | Array | None,
        binning: Sequence[Axis | tuple[float, float, float] | np.ndarray] | None = None,
        isdensity: bool = False,
        attrs: Mapping[str, Any] | None = None,
    ):
        if isinstance(weights, hist.Hist):
            if binning is not None:
                raise ValueError("give no binning with a hist.Hist: its axes are the binning")
            axes = [self._axis_from_hist(ax) for ax in weights.axes]
            view = weights.view(flow=False)
            if not isinstance(view, np.ndarray) or view.dtype.names:
                raise ValueError("only hist.Hist with simple (Double/Int64) storage can be stored")
            weights = np.asarray(view, dtype=np.float64)
        else:
            if binning is None:
                raise ValueError("a Histogram needs a binning")
            axes = [self._axis_from(b) for b in binning]
            if weights is None:
                weights = np.zeros([a.nbins for a in axes])
        w = weights if isinstance(weights, Array) else Array(np.asarray(weights, dtype=np.float64))
        if w.nda.shape != tuple(a.nbins for a in axes):
            raise ValueError(
                f"weights of shape {w.nda.shape} do not fit axes with {[a.nbins for a in axes]} bins"
            )
        binning_struct = Struct({f"axis_{i}": a for i, a in enumerate(axes)})
        super().__init__(
            {"binning": binning_struct, "isdensity": Scalar(bool(isdensity)), "weights": w}, attrs
        )

    @staticmethod
    def _axis_from(spec: Any) -> Axis:
        if isinstance(spec, Axis):
            return spec
        if isinstance(spec, Struct):
            return Axis(spec["binedges"], spec["closedleft"].value)
        if isinstance(spec, tuple) and len(spec) == 3:
            return Axis.regular(*spec)
        return Axis.variable(spec)

    @staticmethod
    def _axis_from_hist(ax: Any) -> Axis:
        if isinstance(ax, hist.axis.Regular) and ax.transform is None:
            edges = ax.edges
            return Axis.regular(edges[0], edges[-1], (edges[-1] - edges[0]) / ax.size)
        if isinstance(ax, hist.axis.Variable | hist.axis.Regular):  # transformed: keep edges
            return Axis.variable(ax.edges)
        raise ValueError(f"only regular or variable axes can be stored, not {type(ax).__name__}")

    @property
    def weights(self) -> Array:
        return self["weights"]

    @property
    def isdensity(self) -> bool:
        return bool(self["isdensity"].value)

    @property
    def binning(self) -> tuple[Axis, ...]:
        b = self["binning"]
        return tuple(self._axis_from(b[k]) for k in sorted(b, key=lambda k: int(k.split("_")[1])))

    def view_as(self, library: str = "hist") -> Any:
        """A ``hist.Hist`` (weights copied in) or the numpy weights (``"np"``)."""
        check_library(library, ("hist", "np"), "Histogram")
        if library == "np":
            return self.weights.nda
        axes: list[hist.axis.Regular | hist.axis.Variable] = []
        for a in self.binning:
            if a.is_range:
                axes.append(hist.axis.Regular(a.nbins, a.edges[0], a.edges[-1], flow=False))
            else:
                axes.append(hist.axis.Variable(a.edges, flow=False))
        h = hist.Hist(*axes, storage=hist.storage.Double())
        h.view(flow=False)[...] = self.weights.nda
        return h

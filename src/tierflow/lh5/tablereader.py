"""Reading many tables of one layout (every channel's table in a file, file after file) with
the plan of the first one kept and rebound to the next (:meth:`~.serial.base.Plan.rebind`):
a table shaped like one read before costs its data reads and a look at its datasets' types,
not its attributes again.

:class:`KeptPlans` keeps the plans; :class:`TableReader` reads row ranges of tables with
them, object for object as :func:`tierflow.lh5.read` would.
"""

from __future__ import annotations

import sys
from typing import Any

import h5py
from h5py import h5g, h5o

from ..errors import TierflowError
from ..types import LGDO
from .fieldmask import FieldMask, FieldMaskSpec
from .guards import FAILURES, translated
from .read import read
from .serial.attrs import read_datatype
from .serial.base import LayoutChanged, Plan, fast_paths_enabled
from .serial.describe import plan_of, rows_of
from .serial.rows import select_rows

#: layouts kept per :class:`KeptPlans`
KEPT_LAYOUTS = 64


class KeptPlans:
    """Plans of stored objects, kept and rebound to the next object of the same layout;
    planned afresh when none fits (or fast paths are off).

    A kept plan fits when every member it reads is there with the same HDF5 type and row
    shape and, without a field mask, the group has no other members (no attribute is read:
    that is the work saved). ``fast`` counts plans rebound, ``planned`` plans made.

    >>> import tempfile, os, numpy as np, tierflow.lh5 as lh5
    >>> from tierflow.types import Table
    >>> path = os.path.join(tempfile.mkdtemp(), "k.lh5")
    >>> for ch in ("ch1", "ch2"):
    ...     lh5.write(Table({"a": np.arange(3.0)}), f"{ch}/raw", path)
    >>> kept = KeptPlans()
    >>> with h5py.File(path) as f:
    ...     [kept.plan(f["ch1/raw"].id).n_rows(), kept.plan(f["ch2/raw"].id).n_rows()]
    [3, 3]
    >>> kept.planned, kept.fast
    (1, 1)
    """

    def __init__(
        self,
        mask: FieldMaskSpec | FieldMask = None,
        decompress: bool = True,
        reread_attrs: bool = False,
    ):
        self.mask = FieldMask.of(mask)
        self.decompress = decompress
        self.reread_attrs = reread_attrs
        self._plans: list[Plan] = []  # most recently used first
        self.fast = 0
        self.planned = 0

    def plan(self, oid: Any) -> Plan:
        """The plan of the object ``oid`` (a low-level id)."""
        if fast_paths_enabled():
            for i, kept in enumerate(self._plans):
                try:
                    plan = self._rebound(kept, oid)
                except (LayoutChanged, *FAILURES):
                    continue  # another layout, or damage that planning will name
                if i:
                    self._plans.insert(0, self._plans.pop(i))
                if self.reread_attrs:
                    plan.reread_attrs()
                self.fast += 1
                return plan
        plan = plan_of(oid, self.mask, self.decompress)
        self.planned += 1
        if fast_paths_enabled():
            self._plans = [plan, *self._plans[: KEPT_LAYOUTS - 1]]
        return plan

    def _rebound(self, kept: Plan, oid: Any) -> Plan:
        members = getattr(kept, "fields", None)
        if (
            self.mask is None
            and members is not None
            and isinstance(oid, h5g.GroupID)
            and oid.get_num_objs() != len(members)
        ):
            raise LayoutChanged  # other members than the kept plan's
        return kept.rebind(oid)


class TableReader:
    """Reads ``columns`` (a field mask) of tables of open files, with kept plans.

    ``fast`` counts tables read with a kept plan, ``general`` those left to
    :func:`~tierflow.lh5.read` (which says what is wrong with them).

    >>> import tempfile, os, numpy as np, tierflow.lh5 as lh5
    >>> from tierflow.types import Table
    >>> path = os.path.join(tempfile.mkdtemp(), "r.lh5")
    >>> for ch in ("ch1", "ch2"):
    ...     lh5.write(Table({"a": np.arange(5.0), "b": np.arange(5)}), f"{ch}/raw", path)
    >>> reader = TableReader(["a"])
    >>> with h5py.File(path, "r") as f:
    ...     [reader.read(f, t, 1, 2)["a"].nda.tolist() for t in ("ch1/raw", "ch2/raw")]
    [[1.0, 2.0], [1.0, 2.0]]
    """

    def __init__(self, columns: FieldMaskSpec = None):
        self.kept = KeptPlans(columns, reread_attrs=True)  # each table's own attributes
        self.mask = self.kept.mask
        self.general = 0

    @property
    def fast(self) -> int:
        return self.kept.fast

    def read(
        self,
        h5f: h5py.File,
        name: str,
        start_row: int = 0,
        n_rows: int = sys.maxsize,
        total: int | None = None,
    ) -> LGDO:
        """Rows ``start_row:start_row+n_rows`` of the table ``name``, the mask's columns.

        ``total``: the table's rows when the caller has counted them already (with
        :func:`table_rows`)."""
        try:
            with translated(h5f.filename, name, "reading"):
                plan = self.kept.plan(h5o.open(h5f.id, name.strip("/").encode("utf8")))
                if total is None:
                    total = plan.n_rows()
                if total is not None:
                    return plan.read(
                        select_rows(start_row, n_rows, None, total, h5f.filename, name)
                    )
        except TierflowError:
            pass  # lh5.read says what is wrong, as it says it for any read
        self.general += 1
        return read(name, h5f, start_row, n_rows, field_mask=self.mask)


def datatype_attr(h5f: h5py.File, name: str) -> str | None:
    """The ``datatype`` attribute of the object ``name`` (``None`` if it has none or it is not
    a string; ``KeyError`` if there is no such object)."""
    return read_datatype(h5o.open(h5f.id, name.strip("/").encode("utf8")))


def table_rows(h5f: h5py.File, name: str, first: str | None = None) -> int:
    """Rows of the table ``name`` (as ``lh5.read_n_rows`` counts them: its first field's)."""
    rows = rows_of(h5o.open(h5f.id, name.strip("/").encode("utf8")))
    if rows is None:
        raise ValueError(f"{name} has no rows")
    return rows

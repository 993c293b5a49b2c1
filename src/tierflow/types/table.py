"""Table: a Struct whose fields share a row count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, TypeGuard

import awkward as ak
import numpy as np
import pandas as pd

from .array import Array, ArrayOfEqualSizedArrays
from .base import LGDO, check_library
from .encoded import ArrayOfEncodedEqualSizedArrays, VectorOfEncodedVectors
from .expression import ExpressionResult, evaluate
from .struct import Struct
from .vectorofvectors import VectorOfVectors
from .views import awkward_of_series

#: what a table holds: columns of rows (flat, of equal-sized rows, jagged or encoded) and tables
Column: TypeAlias = (
    "Array | VectorOfVectors | ArrayOfEncodedEqualSizedArrays | VectorOfEncodedVectors | Table"
)


def column_from(data: Any) -> LGDO:
    """The data object for a column given as numpy, awkward, pandas or a list.

    The awkward type decides, not the values: ``var`` lists (and nested Python
    lists) become a VectorOfVectors even when all rows happen to be equally long,
    regular ones an ArrayOfEqualSizedArrays.

    >>> column_from(np.zeros((2, 5))).form_datatype()
    'array_of_equalsized_arrays<1,1>{real}'
    >>> type(column_from([[1, 2], [3, 4]])).__name__
    'VectorOfVectors'
    """
    if isinstance(data, LGDO):
        return data
    if isinstance(data, ak.Array):
        if data.fields:
            return Table(data)
        if data.ndim == 1:
            return Array(ak.to_numpy(data))
        if isinstance(data.type.content, ak.types.RegularType):
            try:
                return ArrayOfEqualSizedArrays(nda=ak.to_numpy(data))
            except ValueError:
                pass  # regular outside, variable inside
        return VectorOfVectors(data)
    if isinstance(data, pd.Series):
        jagged = awkward_of_series(data)  # an awkward-pandas column, as view_as("pd") gives
        if jagged is not None:
            return column_from(jagged)
        data = data.to_numpy()
    nda = np.asarray(data) if not isinstance(data, list) else None
    if nda is None or nda.dtype == object:  # lists; pandas strings or Series of arrays
        return column_from(ak.Array(list(data)))
    return Array(nda) if nda.ndim == 1 else ArrayOfEqualSizedArrays(nda=nda)


def is_column(obj: object) -> TypeGuard[Column]:
    """Whether a table may hold ``obj`` as a column (see :data:`Column`).

    >>> from tierflow.types import Scalar
    >>> is_column(Array([1, 2])), is_column(Scalar(1))
    (True, False)
    """
    return isinstance(
        obj,
        Array | VectorOfVectors | ArrayOfEncodedEqualSizedArrays | VectorOfEncodedVectors | Table,
    )


class Table(Struct[Column]):
    """Columns of equal length: dict-like by name, sliceable by rows.

    Build it from data objects, a dict of arrays, a pandas DataFrame or an awkward
    record array. ``len(table)`` is the row count.

    >>> t = Table({"a": np.arange(4.0), "b": [[1], [], [2, 3], [4]]})
    >>> len(t), list(t.keys()), t.form_datatype()
    (4, ['a', 'b'], 'table{a,b}')
    >>> t[t["a"].nda > 1]["b"].view_as("ak").tolist()
    [[2, 3], [4]]
    >>> t.eval("a * 2").nda.tolist()
    [0.0, 2.0, 4.0, 6.0]

    **Names of nested columns.** A column of a nested table (LEGEND's evt tier:
    ``coincident`` holding ``geds``) has one spelling per context, each LEGEND's:

    - ``"coincident/geds"``: a path, as in the file. ``table["coincident/geds"]``,
      ``field_mask``, ``LH5Iterator.available_fields()`` and error messages about fields.
    - ``coincident__geds``: a name in an expression (``eval``, ``query``, ``hist`` keys,
      cuts), as in LEGEND's ``Table.eval``; see :meth:`flatten`.
    - ``"coincident_geds"``: a pandas column of ``view_as("pd")``, as LEGEND's.
    - awkward and numpy keep the nesting: ``arr.coincident.geds``, ``d["coincident"]["geds"]``.

    **Strings.** Fixed-length byte strings (numpy ``S``, LH5 ``string``) and vectors of them
    are read and written byte for byte. ``view_as("ak")`` gives awkward ``bytes``, as
    LEGEND's does (compare with ``b"..."``); ``view_as("np")`` numpy ``S`` (vectors padded
    with ``b""``); ``view_as("pd")`` text (``str``), jagged columns as awkward-pandas columns.
    See :mod:`tierflow.types.views`.

    >>> evt = Table({"coincident": Table({"geds": [True, False]}),
    ...              "trigger": Table({"type": np.array([b"physics", b"forced"])})})
    >>> evt["coincident/geds"].nda.tolist(), evt.eval("coincident__geds").nda.tolist()
    ([True, False], [True, False])
    >>> list(evt.view_as("pd").columns), evt.view_as("ak")["trigger", "type"].tolist()
    (['coincident_geds', 'trigger_type'], [b'physics', b'forced'])
    """

    def __init__(
        self,
        col_dict: Mapping[str, Any] | pd.DataFrame | ak.Array | None = None,
        size: int | None = None,
        attrs: Mapping[str, Any] | None = None,
    ):
        if isinstance(col_dict, ak.Array):
            col_dict = {f: col_dict[f] for f in col_dict.fields}
        elif isinstance(col_dict, pd.DataFrame):
            col_dict = {str(k): col_dict[k] for k in col_dict.columns}
        rows = size
        super().__init__(attrs=attrs)
        for key, data in (col_dict or {}).items():  # add_field's checks, one datatype update
            name = str(key)
            obj = self._check_column(name, column_from(data))
            if not self._fields:
                rows = len(obj)
            elif len(obj) != rows:
                msg = f"column {name!r} has {len(obj)} rows but the table has {rows}"
                raise ValueError(msg)
            self._fields[name] = obj
        if self._fields:
            self.update_datatype()
        if size is not None and self._fields and rows != size:
            msg = f"the columns have {rows} rows, not size={size}"
            raise ValueError(msg)
        self._size: int = 0 if rows is None else rows

    # --- rows -------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """The number of rows."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def datatype_name(self) -> str:
        return "table"

    def add_field(self, name: str, obj: LGDO, use_obj_size: bool = False) -> None:
        """Add a column; its length must equal the table's unless the table has no columns.

        With ``use_obj_size=True`` the table takes the new column's length.
        """
        column = self._check_column(name, obj)
        n = len(column)
        others = [k for k in self._fields if k != name]
        if not others:
            self._size = n
        elif n != self._size:
            if not use_obj_size:
                msg = f"column {name!r} has {n} rows but the table has {self._size}"
                raise ValueError(msg)
            for k in others:
                self._fields[k].resize(n)
            self._size = n
        super().add_field(name, column)

    add_column = add_field

    def _check_column(self, name: str, obj: Any) -> Column:
        """``obj`` if a table may hold it as its column ``name``; a ``TypeError`` otherwise."""
        if isinstance(obj, Struct) and not isinstance(obj, Table):
            msg = f"column {name!r}: a Table holds columns and tables, not a plain Struct"
            raise TypeError(msg)
        self._check_field(name, obj)
        if not is_column(obj):
            msg = f"column {name!r}: a Table holds columns of rows, not a {type(obj).__name__}"
            raise TypeError(msg)
        return obj

    def remove_column(self, name: str, delete: bool = False) -> None:
        """Remove a column (``KeyError`` listing the columns if absent)."""
        self.remove_field(name, delete)

    def resize(self, new_size: int, trim: bool = False) -> None:
        """Change the number of rows of every column."""
        for col in self._fields.values():
            col.resize(new_size, trim)
        self._size = new_size

    def take(self, rows: slice | np.ndarray | Sequence[int]) -> Table:
        """A new table with the selected rows: a slice, an index array or a boolean mask."""
        if not isinstance(rows, slice):
            rows = np.asarray(rows)
            if rows.dtype == bool and len(rows) != self._size:
                msg = f"boolean mask of length {len(rows)} for a table of {self._size} rows"
                raise IndexError(msg)
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
        columns = {k: v.take(rows) for k, v in self._fields.items()}
        n = len(range(self._size)[rows]) if isinstance(rows, slice) else len(rows)
        return self._like(columns, n)

    def _like(self, columns: Mapping[str, Column], size: int) -> Table:
        new = Table.__new__(type(self))
        Struct.__init__(new, attrs=self.getattrs())
        new._size = size
        new._fields = dict(columns)
        new.update_datatype()
        return new

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        if isinstance(key, Array):
            key = key.nda
        if isinstance(key, int | np.integer):
            return {k: v[int(key)] for k, v in self._fields.items()}
        return self.take(key)

    @classmethod
    def concat(cls, tables: Sequence[Table]) -> Table:
        """Rows of ``tables`` one after another (same columns required).

        >>> Table.concat([Table({"a": [1]}), Table({"a": [2, 3]})])["a"].nda.tolist()
        [1, 2, 3]
        """
        from .concat import concat

        return concat(tables)

    # --- expressions and views ----------------------------------------------------------
    def flatten(self, _prefix: str = "") -> Table:
        """A table without nested tables: ``sub/col`` becomes ``sub__col``."""
        columns: dict[str, Column] = {}
        for k, v in self._fields.items():
            if isinstance(v, Table):
                columns.update(v.flatten(f"{_prefix}{k}__")._fields)
            else:
                columns[f"{_prefix}{k}"] = v
        return self._like(columns, self._size)

    def eval(self, expr: str, parameters: Mapping[str, Any] | None = None) -> ExpressionResult:
        """Evaluate an expression over the columns (see :mod:`tierflow.types.expression`).

        Flat columns use numexpr; jagged ones awkward. Nested columns are named
        ``a__b``; the functions and constants of ``np`` and ``ak`` listed in
        :mod:`tierflow.types.safe_eval` are available; nothing else is: an expression that names
        anything else is an :class:`~tierflow.errors.ExpressionError` before it runs.
        """
        return evaluate(expr, self.flatten()._fields, parameters)

    def view_as(
        self, library: str = "pd", cols: Sequence[str] | None = None, prefix: str = ""
    ) -> Any:
        """A pandas DataFrame (nested columns ``sub_col``), awkward record array or dict of
        numpy (nested tables as dicts).

        Numeric 1-d columns are not copied. Vectors and waveforms are awkward-pandas columns
        in pandas, padded arrays in numpy; for strings see the class docstring.
        """
        check_library(library, ("pd", "ak", "np"), "Table")
        names = list(self._fields) if cols is None else list(cols)
        if library == "ak":
            if not names:
                return ak.Array(ak.contents.RecordArray([], [], length=self._size))
            return ak.Array({k: self[k].view_as("ak") for k in names})
        if library == "np":
            return {k: self[k].view_as("np") for k in names}
        out: dict[str, Any] = {}
        for k in names:
            col = self[k]
            if isinstance(col, Table):
                out.update(col.view_as("pd", prefix=f"{prefix}{k}_").items())
            else:
                out[f"{prefix}{k}"] = col.view_as("pd")
        return pd.DataFrame(out, copy=False) if out else pd.DataFrame(index=range(self._size))

    def get_dataframe(self, cols: Sequence[str] | None = None) -> pd.DataFrame:
        """Same as ``view_as("pd", cols)``."""
        return self.view_as("pd", cols)

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and isinstance(other, Table) and self._size == other._size

    __hash__ = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._size} rows: {', '.join(self._fields)}; attrs={self.getattrs()})"

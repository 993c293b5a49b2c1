"""One serializer per LH5 object kind, and the registry that picks them.

Every read and write of :mod:`tierflow.lh5` (``read``, ``write``, ``LH5Store``), the
iterator's reader and ``hist``'s direct fill go through these: the mapping of each object
kind to HDF5 lives in one module.

=========================  ====================================================  ================
module                     datatype kinds                                        data objects
=========================  ====================================================  ================
:mod:`.scalar`             ``real``, ``bool``, ``string``, enums (no rows)        ``Scalar``
:mod:`.array`              ``array``, ``fixedsize_array``,                        ``Array`` and its
                           ``array_of_equalsized_arrays``                         subclasses
:mod:`.vector`             ``vector_of_vectors`` (any depth)                      ``VectorOfVectors``
:mod:`.encoded`            ``encoded_vector_of_vectors``,                         the two encoded
                           ``encoded_array_of_equalsized_arrays``                 kinds
:mod:`.table`              ``table``                                              ``Table``,
                                                                                  ``WaveformTable``
:mod:`.struct`             ``struct`` (and histograms)                            ``Struct``,
                                                                                  ``Histogram``
=========================  ====================================================  ================

:mod:`.base` holds the protocol (:class:`~.base.Serializer`, :class:`~.base.Plan`); what
the kinds share lives beside them:

- reading: :mod:`.describe` plans any stored object (attributes read once, datatype parsed,
  the kind's serializer asked) and counts rows from metadata; :mod:`.rows` turns
  ``start_row``/``n_rows``/``idx`` into rows; :mod:`.datasets` reads rows of a dataset
  straight into memory; :mod:`.attrs` reads and writes attributes.
- writing: :mod:`.dispatch` picks the serializer of an object and holds the rules of the
  write modes; :mod:`.create` is the fast creation path (a new table's objects from a kept
  template), :mod:`.deflate` its pre-compressed first chunks.

Fast paths are kept plans of these serializers: a table's read plan rebound to the next table
of its layout (:class:`tierflow.lh5.tablereader.KeptPlans`), a new table's template, an
array's direct reader for ``hist`` (:meth:`.array.ArrayPlan.direct`). Each skips work whose
result is known; :func:`~.base.general_path_only` turns them all off, and the property tests
(``tests/test_serial_properties.py``, ``tests/test_write_paths.py``,
``tests/test_hist_direct_property.py``) assert that both ways give the same objects and files.
"""

from __future__ import annotations

from ...types import LGDO
from .array import ArraySerializer
from .base import LayoutChanged, Plan, Rows, Serializer, WriteContext, general_path_only
from .encoded import EncodedSerializer
from .scalar import ScalarSerializer
from .struct import StructSerializer
from .table import TableSerializer
from .vector import VectorSerializer

#: in the order objects are matched to them: subclasses before their base classes
SERIALIZERS: tuple[Serializer, ...] = (
    ScalarSerializer(),
    EncodedSerializer(),
    VectorSerializer(),
    ArraySerializer(),
    TableSerializer(),
    StructSerializer(),
)
_BY_KIND = {kind: s for s in SERIALIZERS for kind in s.kinds}
_BY_CLASS: dict[type, Serializer | None] = {}


def for_kind(kind: str) -> Serializer | None:
    """The serializer that reads objects of the datatype kind ``kind`` (``None``: unknown).

    >>> type(for_kind("vector_of_vectors")).__name__
    'VectorSerializer'
    """
    return _BY_KIND.get(kind)


def for_object(obj: LGDO) -> Serializer | None:
    """The serializer that writes ``obj`` (``None``: no LH5 kind holds it).

    >>> from tierflow.types import WaveformTable
    >>> type(for_object(WaveformTable(size=2, wf_len=3))).__name__
    'TableSerializer'
    """
    cls = type(obj)
    if cls not in _BY_CLASS:
        _BY_CLASS[cls] = next((s for s in SERIALIZERS if issubclass(cls, s.classes)), None)
    return _BY_CLASS[cls]


__all__ = [
    "SERIALIZERS",
    "LayoutChanged",
    "Plan",
    "Rows",
    "Serializer",
    "WriteContext",
    "for_kind",
    "for_object",
    "general_path_only",
]

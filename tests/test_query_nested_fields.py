"""query's ``fields`` and error messages with nested tables: a nested field is ``a/b`` as a
path and ``a__b`` in an expression, and both spellings select it."""

from __future__ import annotations

import numpy as np
import pytest

from tierflow import lh5
from tierflow.errors import ExpressionError
from tierflow.lh5 import LH5Iterator
from tierflow.types import Array, Table


@pytest.fixture
def evt_file(tmp_path) -> str:
    path = str(tmp_path / "evt.lh5")
    tb = Table(
        {
            "energy": Array(np.arange(6.0)),
            "trigger": Table({"type": Array(np.arange(6) % 3), "ts": Array(np.arange(6.0))}),
        }
    )
    lh5.write(tb, "evt", path, wo_mode="overwrite_file")
    return path


@pytest.mark.parametrize("name", ["trigger/type", "trigger__type"])
def test_query_field_given_as_path_or_expression_name_keeps_its_nesting(evt_file, name):
    got = LH5Iterator(evt_file, "evt").query("energy > 2", fields=[name, "energy"])
    assert got["trigger"]["type"].nda.tolist() == [0, 1, 2]
    assert got["energy"].nda.tolist() == [3.0, 4.0, 5.0]
    df = LH5Iterator(evt_file, "evt").query("energy > 2", fields=[name], library="pd")
    assert list(df.columns) == ["trigger_type"]


def test_query_nested_field_with_an_alias_is_flat(evt_file):
    got = LH5Iterator(evt_file, "evt").query("trigger__type == 1", fields={"trigger__ts": "t"})
    assert list(got.keys()) == ["t"]
    assert got["t"].nda.tolist() == [1.0, 4.0]


def test_query_unknown_nested_field_is_refused_before_reading(evt_file):
    with pytest.raises(ExpressionError, match="trigger/nope"):
        LH5Iterator(evt_file, "evt").query("energy > 2", fields=["trigger__nope"])


def test_unknown_name_message_spells_fields_as_an_expression_must(evt_file):
    with pytest.raises(ExpressionError) as err:
        LH5Iterator(evt_file, "evt").query("trigger__typo > 1")
    assert "trigger__type" in str(err.value)
    assert "trigger/type" not in str(err.value)

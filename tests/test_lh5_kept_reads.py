"""``lh5.read`` keeps the plan of an object read by path and rebinds it when the same object of
the same unchanged file is read again (no attributes read again); a changed file is planned
afresh, and ``general_path_only()`` always plans."""

from __future__ import annotations

import importlib

import numpy as np

from tierflow import lh5
from tierflow.lh5.serial import general_path_only
from tierflow.types import Array, Table

#: the module (``tierflow.lh5.read`` the attribute is the function)
read_module = importlib.import_module("tierflow.lh5.read")


def _counting(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = read_module.plan_of

    def plan_of(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(read_module, "plan_of", plan_of)
    return calls


def _table(units: str, n: int = 5) -> Table:
    return Table({"e": Array(np.arange(float(n)), attrs={"units": units}), "k": np.arange(n)})


def test_a_second_read_of_the_same_object_rebinds_its_plan(tmp_path, monkeypatch):
    path = tmp_path / "f.lh5"
    lh5.write(_table("keV"), "ch1/hit", path)
    calls = _counting(monkeypatch)
    first = lh5.read("ch1/hit", path, field_mask=["e"])
    second = lh5.read("ch1/hit", path, field_mask=["e"], start_row=2)
    assert len(calls) == 1
    assert second["e"].nda.tolist() == first["e"].nda[2:].tolist() == [2.0, 3.0, 4.0]
    assert second["e"].attrs == first["e"].attrs and second["e"].attrs["units"] == "keV"
    lh5.read("ch1/hit", path, field_mask=["k"])  # another mask: another plan
    assert len(calls) == 2


def test_a_changed_file_is_planned_again(tmp_path, monkeypatch):
    path = tmp_path / "f.lh5"
    lh5.write(_table("keV"), "ch1/hit", path)
    calls = _counting(monkeypatch)
    assert lh5.read("ch1/hit", path)["e"].attrs["units"] == "keV"
    lh5.write(_table("MeV", 3), "ch1/hit", path, wo_mode="of")  # same name, new attributes
    got = lh5.read("ch1/hit", path)
    assert got["e"].attrs["units"] == "MeV" and len(got) == 3
    lh5.write(_table("MeV", 2), "ch1/hit", path, wo_mode="a")  # rows appended
    assert len(lh5.read("ch1/hit", path)) == 5
    assert len(calls) == 3


def test_the_general_path_plans_every_read(tmp_path, monkeypatch):
    path = tmp_path / "f.lh5"
    lh5.write(_table("keV"), "ch1/hit", path)
    calls = _counting(monkeypatch)
    with general_path_only():
        for _ in range(3):
            lh5.read("ch1/hit", path)
    assert len(calls) == 3

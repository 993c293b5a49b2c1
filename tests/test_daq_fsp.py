"""FSP records (FlashCam stream processor: FSPConfig, FSPEvent, FSPStatus) in FCIO files,
against legend-daq2lh5 (a test-only oracle) on files built here: th228.fcio has no FSP
records, so its records are wrapped with FSP records laid out as libfsp writes them and the
``fcio`` package reads them (items of int32/float32/int64 values and the C structs of
flags and observables)."""

from __future__ import annotations

import struct

import h5py
import numpy as np
import pytest

from testdata import TESTDATA
from tierflow.daq import build_raw
from tierflow.daq.formats import fcio_framing
from tierflow.daq.formats.flashcam import FlashCamStream
from tierflow.errors import DAQError, DAQTruncatedError
from tierflow.types import Array, Scalar, Struct, Table, VectorOfVectors
from tierflow.types.concat import concat

FCIO_FILE = TESTDATA / "daq" / "fcio" / "th228.fcio"
pytestmark = pytest.mark.skipif(not FCIO_FILE.exists(), reason="needs ../shared/testdata")
HEADER = fcio_framing.HEADER_BYTES


# -- building FCIO files with FSP records ---------------------------------------------------


def record(tag: int, items: list[bytes]) -> bytes:
    """An FCIO record: minus its tag, then items (byte count, bytes)."""
    return struct.pack("<i", -tag) + b"".join(struct.pack("<i", len(x)) + x for x in items)


def pack(fmt: str, *values) -> bytes:
    return struct.pack(f"<{len(values)}{fmt}", *values)


def th228_records() -> tuple[bytes, list[tuple[int, list[bytes]]]]:
    """th228.fcio's protocol header and records (tag, item payloads)."""
    data = FCIO_FILE.read_bytes()
    words = np.frombuffer(data, "<i4")
    out, i = [], HEADER // 4
    while i < len(words):
        tag, j, items = -int(words[i]), i + 1, []
        while j < len(words) and words[j] >= 0:
            n = int(words[j])
            items.append(data[4 * j + 4 : 4 * j + 4 + n])
            j += 1 + (n + 3) // 4
        out.append((tag, items))
        i = j
    return data[:HEADER], out


def flags(*values: int) -> bytes:
    """A libfsp flags union: uint8 flags in a uint64."""
    return bytes(values).ljust(8, b"\0")


def tracemap(indices: list[int], labels: list[bytes]) -> list[bytes]:
    """An FSPTraceMap: format (1: FCIO trace index), mapped indices, enabled, labels."""
    return [
        pack("i", 1),
        pack("i", *indices),
        pack("i", *range(len(indices))),
        b"".join(label.ljust(8, b"\0") for label in labels),
    ]


def fsp_config() -> bytes:
    trigger = [
        *(pack("i", 2), pack("i", 5), pack("i", 100)),
        *(pack("f", 3.5), pack("f", 7.25), pack("f", 0.5), pack("f", 0.125)),
        flags(1, 1) + flags(1, 1, 1, 1, 1, 1) + pack("I", 0) + bytes(4),  # FSPWriteFlags
        *(pack("q", 0), pack("q", 1000), pack("q", 2), pack("q", 500)),  # pre/post windows
        *(flags(1), flags(0), flags(0, 1)),  # reference flags hwm, ct, wps
        pack("i", 0),
    ]
    buffer = [pack("i", 16), pack("q", 0), pack("q", 30_000_000)]
    hwm = [*tracemap([0], [b"ch0"]), pack("H", 20)]
    ct = [*tracemap([0], [b"ch0"]), pack("H", 300)]
    wps = [
        *tracemap([0], [b"ch0"]),
        *(pack("i", 1), pack("i", 202), pack("i", 100), pack("i", 302), pack("f", 2.0)),
        *(pack("f", 1.5), pack("f", 4.0), pack("f", 0.0), pack("i", 7)),
        *(pack("i", 10), pack("i", 20), pack("i", 11), pack("i", 21), pack("i", 30), pack("i", 40)),
    ]
    return record(8, trigger + buffer + hwm + ct + wps)


def fsp_event(k: int) -> bytes:
    write_flags = flags(k % 2, 1 - k % 2) + flags(1, 0, 1, 0, 1, k % 2) + pack("I", 1) + bytes(4)
    proc_flags = flags(1, 0, 1) + flags(1, 1, 0, 0, 0, 1) + flags(1) + flags(0, 1)
    obs = [
        pack("i", k),  # evt: nconsecutive
        struct.pack("<iHHi", 1, 1000 + k, 10 + k, 2),  # hwm
        struct.pack("<fiifi", 2.5 * k, 100 + k, 3, 1.25 * k, 200 + k),  # wps
    ]
    ct = [pack("i", 0), pack("H", 555 + k)] if k % 2 else [b"", b""]
    sub_events = [b"", b"", b""]
    prescaled = [pack("H", 0) if k % 3 == 0 else b""]
    return record(9, [write_flags, proc_flags, *obs, *ct, *sub_events, *prescaled])


def fsp_status(k: int) -> bytes:
    values = (1.0 + k, 2.0 + k, 0.5, 10.0 * k, 10 + k, 8 + k, 2, 1, 1, 0, 5.0)
    rates = (1.5, 1.25, 0.25, 2.5, 2.25, 0.125)
    return record(10, [struct.pack("<4d6i7d", *values, *rates)])


CARD_STATUS = pack("i", 0x2000, *range(2, 301))


def fsp_file(path, n: int = 12, without_fsp: tuple[int, ...] = ()) -> None:
    """FSPConfig, a current-format Config, then th228's first ``n`` events as Event,
    EventHeader and Status records in turn, each after its FSP record (except the
    ``without_fsp`` ones)."""
    header, ((_, config), *events) = th228_records()
    out = header + fsp_config() + record(1, [*config, pack("i", 0), pack("i", 0)])
    for k, (_, items) in enumerate(events[:n]):
        kind, pulser, offsets, stamps, traces, dead = items
        if k % 4 == 3:
            fsp = fsp_status(k)
            status = [pack("i", 1), pack("i", *range(10, 20)), pack("i", 1)]
            rec = record(4, [*status, pack("i", len(CARD_STATUS)), CARD_STATUS])
        elif k % 4 == 2:
            fsp = fsp_event(k)
            rec = record(7, [kind, pulser, offsets, stamps, dead, pack("H", 0), traces[:4]])
        else:
            fsp, rec = fsp_event(k), record(3, items)
        out += (b"" if k in without_fsp else fsp) + rec
    path.write_bytes(out)


def decode_all(path, **kwargs) -> tuple[dict[str, list], FlashCamStream]:
    pieces: dict[str, list] = {}
    with FlashCamStream(path) as stream:
        for block in stream.decode(**kwargs):
            for piece in block:
                pieces.setdefault(piece.decoder, []).append(piece)
    return pieces, stream


@pytest.fixture(scope="module")
def fsp_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("fsp") / "fsp.fcio"
    fsp_file(path)
    return path


# -- values ------------------------------------------------------------------------------


def test_fsp_decoders_registered_only_when_the_file_starts_with_fspconfig(fsp_path):
    with FlashCamStream(fsp_path) as stream:
        keys = stream.decoder_keys()
    assert keys["FSPConfigDecoder"] == ["swtid_0/config"]
    assert keys["FSPEventDecoder"] == ["swtid_0/event", "swtid_0/evt_hdr"]
    assert keys["FSPStatusDecoder"] == ["swtid_0/status"]
    with FlashCamStream(FCIO_FILE) as stream:
        assert not stream.has_fsp
        assert not any(name.startswith("FSP") for name in stream.decoder_keys())


def test_fsp_records_decode_to_the_values_written(fsp_path):
    pieces, stream = decode_all(fsp_path)
    assert stream.skipped == {}
    (config,) = pieces["FSPConfigDecoder"]
    assert config.keys == "swtid_0/config"
    assert isinstance(config.obj, Struct)
    c = config.obj
    assert c["buffer_window_nsec"].value == 30_000_000
    assert c["trg_post_trigger_window_nsec"].value == 2_000_000_500
    assert c["trg_enabled_write_flags_trigger"].value == 0x010101010101
    assert c["trg_wps_ref_flags_wps"].value == 0x100
    assert c["dsp_wps_tracemap_label"].nda.tolist() == [b"ch0"]
    assert c["dsp_ct_thresholds"].nda.tolist() == [300]
    assert c["dsp_wps_margin_back"].nda.tolist() == [21]

    events = concat([p.obj for p in pieces["FSPEventDecoder"]])
    keys = np.concatenate([p.keys for p in pieces["FSPEventDecoder"]])
    # records 0-11: Event, Event, EventHeader, Status, ...; an FSP record shares its packet
    assert events["packet_id"].nda.tolist() == [1, 2, 3, 5, 6, 7, 9, 10, 11]
    assert keys.tolist() == ["swtid_0/event", "swtid_0/event", "swtid_0/evt_hdr"] * 3
    ks = [0, 1, 2, 4, 5, 6, 8, 9, 10]
    assert events["obs_hwm_max_value"].nda.tolist() == [1000 + k for k in ks]
    assert events["obs_wps_max_peak_offset"].nda.tolist() == [200 + k for k in ks]
    assert events["is_extended"].nda.tolist() == [k % 2 == 0 for k in ks]
    assert events["obs_ct_max"].view_as("ak").tolist() == [[555 + k] if k % 2 else [] for k in ks]
    prescaled = events["obs_ps_hwm_prescaled_trace_idx"].view_as("ak").tolist()
    assert prescaled == [[0] if k % 3 == 0 else [] for k in ks]

    (status,) = pieces["FSPStatusDecoder"]
    assert status.keys.tolist() == ["swtid_0/status"] * 3
    assert status.obj["packet_id"].nda.tolist() == [4, 8, 12]
    assert status.obj["n_read_events"].nda.tolist() == [13, 17, 21]
    fc_events = concat([p.obj for p in pieces["FCEventDecoder"]])
    assert fc_events["packet_id"].nda.tolist() == [1, 2, 5, 6, 9, 10]


@pytest.mark.parametrize("buffer_size", [1, 2, 8192])
def test_same_fsp_tables_for_every_buffer_size(fsp_path, buffer_size):
    whole, _ = decode_all(fsp_path)
    pieces, _ = decode_all(fsp_path, buffer_size=buffer_size)
    for decoder in ("FSPEventDecoder", "FSPStatusDecoder"):
        ours = concat([p.obj for p in pieces[decoder]])
        ref = concat([p.obj for p in whole[decoder]])
        for name in ref.keys():
            assert ours[name].view_as("ak").tolist() == ref[name].view_as("ak").tolist(), name


def test_n_max_counts_an_fsp_record_and_its_record_as_one_packet(fsp_path):
    pieces, _ = decode_all(fsp_path, n_max=5)
    events = concat([p.obj for p in pieces["FSPEventDecoder"]])
    assert events["packet_id"].nda.tolist() == [1, 2, 3, 5]
    assert pieces["FSPStatusDecoder"][0].obj["packet_id"].nda.tolist() == [4]


# -- against daq2lh5 ----------------------------------------------------------------------


def lh5_datasets(path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            value = obj[()] if isinstance(obj, h5py.Dataset) else None
            dtype = obj.dtype if isinstance(obj, h5py.Dataset) else None
            out[name] = (value, dtype, dict(obj.attrs))

        f.visititems(visit)
    return out


def assert_same(ours: dict, theirs: dict, name: str) -> None:
    (a, dtype_a, attrs_a), (b, dtype_b, attrs_b) = ours[name], theirs[name]
    assert dtype_a == dtype_b, name
    assert attrs_a.keys() == attrs_b.keys(), name
    for key in attrs_a:
        assert np.all(attrs_a[key] == attrs_b[key]), f"{name}.attrs[{key}]"
    np.testing.assert_array_equal(a, b, err_msg=name)


def build_both(path, tmp_path) -> tuple[dict, dict]:
    daq2lh5 = pytest.importorskip("daq2lh5")
    ours, theirs = tmp_path / "tierflow.lh5", tmp_path / "daq2lh5.lh5"
    build_raw(str(path), out_spec=str(ours))
    daq2lh5.build_raw(str(path), in_stream_type="FlashCam", out_spec=str(theirs))
    return lh5_datasets(ours), lh5_datasets(theirs)


def test_fsp_tables_equal_daq2lh5(fsp_path, tmp_path):
    ours, theirs = build_both(fsp_path, tmp_path)
    assert ours.keys() == theirs.keys()
    fsp = [name for name in ours if name.startswith("FSP")]
    assert {name.split("/")[0] for name in fsp} == {"FSPConfig", "FSPEvent", "FSPStatus"}
    assert len(fsp) > 80
    for name in fsp:
        assert_same(ours, theirs, name)
    for name in ours:  # the other tables: as in test_daq_fcio, but for daq2lh5's defects
        if name.split("/")[0] != "FCConfig" and name != "FCStatus/n_link_errors":
            assert_same(ours, theirs, name)


def test_record_without_its_fsp_record_gets_no_fsp_row_where_daq2lh5_repeats_the_last(
    tmp_path,
):
    path = tmp_path / "gaps.fcio"
    fsp_file(path, without_fsp=(1, 7))  # an Event and a Status without their FSP record
    ours, theirs = build_both(path, tmp_path)
    ids = ours["FSPEvent/packet_id"][0].tolist()
    assert ids == [1, 3, 5, 6, 7, 9, 10, 11]
    # daq2lh5's defect: it fills an FSP row for every record once the file has FSPConfig,
    # from fcio's FSP state, which still holds the previous FSP record's values
    assert theirs["FSPEvent/packet_id"][0].tolist() == [1, 2, 3, 5, 6, 7, 9, 10, 11]
    their_max = theirs["FSPEvent/obs_hwm_max_value"][0].tolist()
    assert their_max[:2] == [1000, 1000]  # packet 2 repeats packet 1's values
    assert ours["FSPEvent/obs_hwm_max_value"][0].tolist() == [
        1000 + k for k in (0, 2, 4, 5, 6, 8, 9, 10)
    ]
    assert ours["FSPStatus/packet_id"][0].tolist() == [4, 12]
    assert theirs["FSPStatus/packet_id"][0].tolist() == [4, 8, 12]
    assert theirs["FSPStatus/n_read_events"][0].tolist() == [13, 13, 21]
    keep = [i for i, p in enumerate(theirs["FSPEvent/packet_id"][0]) if p in ids]
    for name in ours:
        if name.startswith("FSPEvent/") and ours[name][0] is not None and name.count("/") == 1:
            np.testing.assert_array_equal(ours[name][0], theirs[name][0][keep], err_msg=name)


# -- bad input ------------------------------------------------------------------------------


def test_fsp_event_in_a_file_without_fspconfig_is_an_error_not_a_crash(tmp_path):
    header, ((_, config), (_, event), *_) = th228_records()
    data = header + record(1, config) + record(3, event)
    fsp_at = len(data)
    path = tmp_path / "no_config.fcio"
    path.write_bytes(data + fsp_event(1) + record(3, event))
    with FlashCamStream(path) as stream:
        blocks = []
        with pytest.raises(DAQError, match="starts without FSPConfig") as err:
            for block in stream.decode():
                blocks.append(block)
    assert err.value.offset == fsp_at
    assert [p.decoder for p in blocks[0]] == ["FCConfigDecoder", "FCEventDecoder"]


def test_file_cut_inside_an_fsp_event_yields_the_records_before_it(fsp_path, tmp_path):
    data = fsp_path.read_bytes()
    start = data.index(fsp_event(5))
    path = tmp_path / "cut.fcio"
    path.write_bytes(data[: start + 30])
    pieces: dict[str, list] = {}
    with FlashCamStream(path) as stream, pytest.raises(DAQTruncatedError) as err:
        for block in stream.decode():
            for piece in block:
                pieces.setdefault(piece.decoder, []).append(piece)
    assert err.value.offset == start
    assert err.value.file == str(path)
    events = concat([p.obj for p in pieces["FSPEventDecoder"]])
    assert events["packet_id"].nda.tolist() == [1, 2, 3, 5]


def test_file_cut_inside_the_fspconfig(fsp_path, tmp_path):
    path = tmp_path / "cut_config.fcio"
    path.write_bytes(fsp_path.read_bytes()[: HEADER + 100])
    with pytest.raises(DAQTruncatedError) as err:
        FlashCamStream(path)
    assert err.value.offset == HEADER


def test_fsp_config_without_a_config_after_it_is_an_error(fsp_path, tmp_path):
    header = fsp_path.read_bytes()[:HEADER]
    path = tmp_path / "fsp_only.fcio"
    path.write_bytes(header + fsp_config() + fsp_event(1))
    with pytest.raises(DAQError, match="starts with a Config record, found FSPEvent"):
        FlashCamStream(path)


def test_fsp_record_not_followed_by_the_record_it_judges_is_counted_as_skipped(tmp_path):
    header, ((_, config), (_, event), *_) = th228_records()
    path = tmp_path / "stray.fcio"
    config_record = record(1, [*config, pack("i", 0), pack("i", 0)])
    path.write_bytes(
        header + fsp_config() + config_record + fsp_status(0) + record(3, event) + fsp_event(2)
    )
    pieces, stream = decode_all(path)
    assert stream.skipped == {"FSPStatus": 1, "FSPEvent": 1}
    assert "FSPEventDecoder" not in pieces and "FSPStatusDecoder" not in pieces
    assert len(concat([p.obj for p in pieces["FCEventDecoder"]])) == 1
    ours, theirs = build_both(path, tmp_path)
    assert not any(name.startswith(("FSPEvent", "FSPStatus")) for name in ours)
    # daq2lh5's defect: the Event gets an FSPEvent row from fcio's never-filled FSP state
    assert theirs["FSPEvent/packet_id"][0].tolist() == [1]
    assert theirs["FSPEvent/obs_hwm_max_value"][0].tolist() == [0]
    assert "FSPStatus" not in theirs


def test_fsp_columns_are_tierflow_objects(fsp_path):
    pieces, _ = decode_all(fsp_path)
    config = pieces["FSPConfigDecoder"][0].obj
    assert all(isinstance(config[k], (Scalar, Array)) for k in config.keys())
    table = pieces["FSPEventDecoder"][0].obj
    assert isinstance(table, Table)
    assert isinstance(table["obs_ct_trace_idx"], VectorOfVectors)
    assert table["is_written"].nda.dtype == np.bool_

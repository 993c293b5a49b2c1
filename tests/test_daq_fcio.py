"""The FlashCam FCIO stream reader against legend-daq2lh5 (a test-only oracle) on the real
th228.fcio file, and on bad input: truncated files, corrupt length words and headers."""

from __future__ import annotations

import os
import struct

import h5py
import numpy as np
import pytest

from testdata import TESTDATA
from tierflow.daq.formats import fcio_framing
from tierflow.daq.formats.flashcam import FlashCamStream
from tierflow.daq.stream import guess_stream_type, stream_types
from tierflow.errors import DAQError, DAQTruncatedError
from tierflow.types import Array, Table, VectorOfVectors
from tierflow.types.concat import concat

FCIO_FILE = TESTDATA / "daq" / "fcio" / "th228.fcio"
pytestmark = pytest.mark.skipif(not FCIO_FILE.exists(), reason="needs ../shared/testdata")

HEADER = fcio_framing.HEADER_BYTES
CONFIG_BYTES = 84  # th228.fcio's Config record
EVENT_BYTES = 3832  # each of its 1000 Event records
FIRST_EVENT = HEADER + CONFIG_BYTES


@pytest.fixture(scope="module")
def daq2lh5_out(tmp_path_factory):
    """daq2lh5's output on th228.fcio with its default routing (one table per decoder)."""
    daq2lh5 = pytest.importorskip("daq2lh5")
    out = tmp_path_factory.mktemp("daq2lh5") / "fcio.lh5"
    daq2lh5.build_raw(str(FCIO_FILE), in_stream_type="FlashCam", out_spec=str(out))
    with h5py.File(out) as f:
        yield f


def decode_all(path, **kwargs) -> dict[str, list]:
    pieces: dict[str, list] = {}
    with FlashCamStream(path) as stream:
        for block in stream.decode(**kwargs):
            for piece in block:
                pieces.setdefault(piece.decoder, []).append(piece)
    return pieces


@pytest.fixture(scope="module")
def decoded():
    return decode_all(FCIO_FILE)


def events(pieces) -> Table:
    return concat([p.obj for p in pieces["FCEventDecoder"]])


def assert_same_layout(ours, ref: h5py.Group | h5py.Dataset, path: str):
    """Same datatype, attributes and dtypes as daq2lh5 wrote, column by column."""
    attrs = {k: v for k, v in ref.attrs.items() if k != "datatype"}
    assert ours.form_datatype() == ref.attrs["datatype"], path
    assert set(ours.attrs) - {"datatype"} == set(attrs), path
    for k, v in attrs.items():
        assert ours.attrs[k] == v, f"{path}.attrs[{k}]"
    if isinstance(ours, Table):
        assert set(ours.keys()) == set(ref.keys()), path
        for name in ours.keys():
            assert_same_layout(ours[name], ref[name], f"{path}/{name}")
    elif isinstance(ours, VectorOfVectors):
        assert ours.flattened_data.dtype == ref["flattened_data"].dtype, path
        assert ours.cumulative_length.dtype == ref["cumulative_length"].dtype, path
    else:
        assert ours.dtype == ref.dtype, path


def test_registered_and_sniffed():
    assert stream_types()["FlashCam"] is FlashCamStream
    assert guess_stream_type(FCIO_FILE) == "FlashCam"
    assert FlashCamStream.sniff(FCIO_FILE.read_bytes()[:64])
    assert not FlashCamStream.sniff(b"\x00" * 64)


def test_decoder_keys_from_the_config():
    with FlashCamStream(FCIO_FILE) as stream:
        assert stream.decoder_keys() == {
            "FCConfigDecoder": ["fcid_0/config"],
            "FCEventDecoder": [0],
            "FCEventHeaderDecoder": ["fcid_0/evt_hdr"],
            "FCStatusDecoder": ["fcid_0/status/card8192"],
        }


def test_fcevent_equals_daq2lh5(decoded, daq2lh5_out):
    ours = events(decoded)
    ref = daq2lh5_out["FCEvent"]
    assert len(ours) == 1000
    assert_same_layout(ours, ref, "FCEvent")
    for name in ours.keys():
        if name == "waveform":
            for sub in ("t0", "dt", "values"):
                np.testing.assert_array_equal(ours["waveform"][sub].nda, ref["waveform"][sub][()])
        else:
            np.testing.assert_array_equal(ours[name].nda, ref[name][()], err_msg=name)
    keys = np.concatenate([p.keys for p in decoded["FCEventDecoder"]])
    assert (keys == 0).all()  # fcid 0, card address 0, input 0


def test_fcconfig_holds_the_file_values_where_daq2lh5_wrote_an_uninitialised_buffer(
    decoded, daq2lh5_out
):
    (piece,) = decoded["FCConfigDecoder"]
    assert piece.keys == "fcid_0/config"
    ours, ref = piece.obj, daq2lh5_out["FCConfig"]
    assert_same_layout(ours, ref, "FCConfig")
    values = {name: ours[name].nda.tolist() for name in ours.keys() if name != "tracemap"}
    assert values == {
        "packet_id": [0],
        "nsamples": [1836],
        "nadcs": [1],
        "ntriggers": [0],
        "streamid": [0],
        "adcbits": [16],
        "sumlength": [1],
        "blprecision": [1],
        "mastercards": [0],
        "triggercards": [0],
        "adccards": [1],
        "gps": [0],
    }
    assert ours["tracemap"].view_as("ak").tolist() == [[0]]
    # daq2lh5's defect: the table is never filled (garbage where the file says 1836 and 1)
    assert ref["nsamples"][0] != 1836 or ref["nadcs"][0] != 1
    assert ref["tracemap/cumulative_length"][()].tolist() == [8192]


@pytest.mark.parametrize("buffer_size", [1, 7, 8192])
def test_same_tables_for_every_buffer_size(decoded, buffer_size):
    pieces = decode_all(FCIO_FILE, buffer_size=buffer_size)
    assert all(len(p.obj) <= buffer_size for p in pieces["FCEventDecoder"])
    ours, ref = events(pieces), events(decoded)
    for name in ("packet_id", "eventnumber", "timestamp", "baseline", "runtime"):
        np.testing.assert_array_equal(ours[name].nda, ref[name].nda)
    np.testing.assert_array_equal(ours["waveform"]["values"].nda, ref["waveform"]["values"].nda)
    assert len(pieces["FCConfigDecoder"]) == 1


def test_n_max_stops_after_that_many_packets(decoded):
    pieces = decode_all(FCIO_FILE, n_max=10, buffer_size=4)
    ours = events(pieces)
    assert ours["packet_id"].nda.tolist() == list(range(1, 11))
    np.testing.assert_array_equal(
        ours["waveform"]["values"].nda, events(decoded)["waveform"]["values"].nda[:10]
    )


# -- bad input ------------------------------------------------------------------------


def write(tmp_path, data: bytes, name="bad.fcio"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def decode_until_error(path, **kwargs):
    """Rows decoded before the error, and the error."""
    rows = 0
    with pytest.raises(DAQError) as info, FlashCamStream(path) as stream:
        for block in stream.decode(**kwargs):
            rows += sum(len(p.obj) for p in block if p.decoder == "FCEventDecoder")
    return rows, info.value


@pytest.mark.parametrize(
    ("cut", "partial"),
    [
        (FIRST_EVENT + 5 * EVENT_BYTES + 100, 5),  # inside an item
        (FIRST_EVENT + 5 * EVENT_BYTES + 2, 5),  # inside the tag word
        (FIRST_EVENT + 5 * EVENT_BYTES + 4 + 4 + 4 + 4 + 4 + 44 + 44 + 3680, 5),  # 5 of 6 items
        (FIRST_EVENT + 999 * EVENT_BYTES + 4 + 8 + 8, 999),  # the last record, 2 items
    ],
)
@pytest.mark.parametrize("buffer_size", [1, 8192])
def test_truncated_file_names_the_partial_record_after_yielding_the_complete_ones(
    tmp_path, cut, partial, buffer_size
):
    path = write(tmp_path, FCIO_FILE.read_bytes()[:cut])
    rows, err = decode_until_error(path, buffer_size=buffer_size)
    assert isinstance(err, DAQTruncatedError)
    assert err.file == str(path)
    assert err.offset == FIRST_EVENT + partial * EVENT_BYTES
    assert rows == partial


def test_file_cut_inside_the_config(tmp_path):
    path = write(tmp_path, FCIO_FILE.read_bytes()[: HEADER + 40])
    with pytest.raises(DAQTruncatedError) as info:
        FlashCamStream(path)
    assert info.value.offset == HEADER


def test_header_only_file_has_no_config(tmp_path):
    path = write(tmp_path, FCIO_FILE.read_bytes()[:HEADER])
    with pytest.raises(DAQError, match="starts with a Config record"):
        FlashCamStream(path)


def patch(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + struct.pack("<i", value) + data[offset + 4 :]


def test_not_an_fcio_header(tmp_path):
    data = b"ORCA" + FCIO_FILE.read_bytes()[4:]
    with pytest.raises(DAQError, match="not an FCIO file") as info:
        FlashCamStream(write(tmp_path, data))
    assert info.value.offset == 0


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (4, 0, "item"),  # a zero length word: the data reads as items and lengths
        (4, 0x7FFFFF00, "exceeds fcio's largest item"),
        (4, 4_000_000, "ends inside a record"),  # points past the end of the file
        (0, -999, "is not an FCIO tag"),
    ],
)
def test_corrupt_length_words_and_tags(tmp_path, where, value, message):
    """A word of the 4th event (its tag at 0, the first item's length at 4) corrupted."""
    record = FIRST_EVENT + 3 * EVENT_BYTES
    data = patch(FCIO_FILE.read_bytes(), record + where, value)
    rows, err = decode_until_error(write(tmp_path, data))
    assert message in str(err)
    assert err.file is not None and err.offset is not None
    assert rows <= 3


@pytest.mark.parametrize(("item", "value"), [(0, 100_000), (2, 1 << 20), (0, -1)])
def test_corrupt_config_sizes_refused_before_fcio_reads_events(tmp_path, item, value):
    """adcs (item 0) or eventsamples (item 2) beyond fcio's limits."""
    data = patch(FCIO_FILE.read_bytes(), HEADER + 4 + 8 * item + 4, value)
    with pytest.raises(DAQError, match="corrupt FCIO config") as info:
        FlashCamStream(write(tmp_path, data))
    assert info.value.offset == HEADER


FUZZ_CASES = 2000 if os.environ.get("TIERFLOW_FUZZ_FULL") else 60


def test_random_corruption_gives_tables_or_daq_errors(tmp_path):
    """Bounded fuzz (``TIERFLOW_FUZZ_FULL=1``: 2000 cases): one word of the config or of an
    event's framing and small items (its first 24 words) corrupted decodes or raises
    DAQError, never another exception or a hang."""
    data = FCIO_FILE.read_bytes()[: FIRST_EVENT + 20 * EVENT_BYTES]
    rng = np.random.default_rng(15)
    outcomes = {"ok": 0, "error": 0}
    for i in range(FUZZ_CASES):
        record = int(rng.integers(-1, 20))
        base = HEADER if record < 0 else FIRST_EVENT + record * EVENT_BYTES
        at = base + 4 * int(rng.integers(0, 24))
        value = int(rng.choice([0, -1, -3, 1, 7, 1 << 30, int(rng.integers(-(2**31), 2**31))]))
        path = write(tmp_path, patch(data, at, value), "fuzz.fcio")
        try:
            with FlashCamStream(path) as stream:
                for _ in stream.decode(buffer_size=8):
                    pass
            outcomes["ok"] += 1
        except DAQError as err:
            assert err.file == str(path) and err.offset is not None, i
            outcomes["error"] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0


def test_missing_file_is_a_daq_error(tmp_path):
    with pytest.raises(DAQError, match="cannot open"):
        FlashCamStream(tmp_path / "missing.fcio")


def test_columns_are_tierflow_objects(decoded):
    table = events(decoded)
    assert isinstance(table["baseline"], Array)
    assert table["waveform"]["values"].nda.shape == (1000, 1836)


# -- EventHeader, SparseEvent and Status records: a file built from th228.fcio's records --


def fcio_item(payload: bytes) -> bytes:
    """A tmio item: its byte count, then the bytes (no padding)."""
    return struct.pack("<i", len(payload)) + payload


def fcio_record(tag: int, items: list[bytes]) -> bytes:
    return struct.pack("<i", -tag) + b"".join(fcio_item(x) for x in items)


def fcio_records(data: bytes) -> list[tuple[int, list[bytes]]]:
    """th228.fcio's records (tag, item payloads); its items are all whole words."""
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
    return out


def ints(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}i", *values)


CARD_STATUS = ints(0x2000, *range(2, 301))  # reqid of ADC card 0, then 2, 3, ... per field


def variant_records_file(path) -> None:
    """A current-format config (with tracemap and streamid) and th228's first 12 events
    rewritten as EventHeader, SparseEvent and Status records in turn."""
    data = FCIO_FILE.read_bytes()
    (_, config), *event_records = fcio_records(data)
    out = data[:HEADER] + fcio_record(1, [*config, ints(0), ints(0)])
    for k, (_, (kind, pulser, offsets, stamps, traces, dead)) in enumerate(event_records[:12]):
        head = [kind, pulser, offsets, stamps, dead]
        if k % 3 == 0:
            out += fcio_record(7, [*head, struct.pack("<H", 0), traces[:4]])
        elif k % 3 == 1:
            out += fcio_record(6, [*head, ints(1), struct.pack("<H", 0), traces])
        else:
            out += fcio_record(
                4, [ints(1), ints(*range(10, 20)), ints(1), ints(len(CARD_STATUS)), CARD_STATUS]
            )
    path.write_bytes(out)


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    daq2lh5 = pytest.importorskip("daq2lh5")
    folder = tmp_path_factory.mktemp("variants")
    variant_records_file(folder / "variants.fcio")
    daq2lh5.build_raw(
        str(folder / "variants.fcio"), in_stream_type="FlashCam", out_spec=str(folder / "v.lh5")
    )
    with h5py.File(folder / "v.lh5") as ref:
        yield decode_all(folder / "variants.fcio"), ref


def assert_same_values(ours, ref, path):
    if isinstance(ours, Table):
        for name in ours.keys():
            assert_same_values(ours[name], ref[name], f"{path}/{name}")
    elif isinstance(ours, VectorOfVectors):
        np.testing.assert_array_equal(ours.flattened_data.nda, ref["flattened_data"][()], path)
        np.testing.assert_array_equal(
            ours.cumulative_length.nda, ref["cumulative_length"][()], path
        )
    else:
        np.testing.assert_array_equal(ours.nda, ref[()], path)


def test_event_header_records_equal_daq2lh5(variants):
    pieces, ref = variants
    (piece,) = pieces["FCEventHeaderDecoder"]
    assert piece.keys == "fcid_0/evt_hdr"
    assert_same_layout(piece.obj, ref["FCEventHeader"], "FCEventHeader")
    assert_same_values(piece.obj, ref["FCEventHeader"], "FCEventHeader")
    assert piece.obj["packet_id"].nda.tolist() == [1, 4, 7, 10]


def test_sparse_event_records_equal_daq2lh5(variants):
    pieces, ref = variants
    ours = events(pieces)
    assert_same_layout(ours, ref["FCEvent"], "FCEvent")
    assert_same_values(ours, ref["FCEvent"], "FCEvent")
    assert ours["packet_id"].nda.tolist() == [2, 5, 8, 11]


def test_status_records_equal_daq2lh5_except_the_link_errors_it_never_fills(variants):
    pieces, ref = variants
    (piece,) = pieces["FCStatusDecoder"]
    assert piece.keys.tolist() == ["fcid_0/status/card8192"] * 4
    table, ref_table = piece.obj, ref["FCStatus"]
    assert set(table.keys()) == set(ref_table.keys())
    for name in table.keys():
        if name == "status":  # LH5 stores bools as uint8 with datatype array<1>{bool}
            assert ref_table[name].attrs["datatype"] == table[name].form_datatype()
            np.testing.assert_array_equal(table[name].nda, ref_table[name][()].astype(bool))
            continue
        assert_same_layout(table[name], ref_table[name], name)
        if name == "n_link_errors":
            # daq2lh5's defect: the column is never filled (uninitialised memory, 0 or
            # garbage); the card says 14 link errors
            assert ref_table[name][()].tolist() != [14] * 4
            assert table[name].nda.tolist() == [14] * 4
            continue
        assert_same_values(table[name], ref_table[name], name)


# -- the ORCA-wrapped FCIO records, at the OrcaDecoder level ------------------------------

ORCA_HEADER = {
    "ReadoutDescription": [
        {"name": "ORFlashCamListenerModel", "uniqueID": 1, "children": [{"crate": 0, "station": 3}]}
    ],
    "ObjectInfo": {
        "Crates": [
            {
                "CrateNumber": 0,
                "Cards": [
                    {
                        "Class Name": "ORFlashCamADCModel",
                        "Card": 3,
                        "CardAddress": 0,
                        "Enabled": [1, 0, 0, 0, 0, 0],
                    }
                ],
            }
        ]
    },
}


def orca_packets(payloads: list[bytes], streamid: int = 1):
    """ORCA packets ``[header word, 0, stream id, FCIO bytes padded to words]`` in one block."""
    words, starts, lengths = [], [], []
    for payload in payloads:
        padded = payload + b"\0" * (-len(payload) % 4)
        body = np.frombuffer(padded, np.uint32)
        starts.append(len(words))
        lengths.append(3 + len(body))
        words += [(7 << 18) | (3 + len(body)), 0, streamid, *body.tolist()]
    return np.array(words, np.uint32), np.array(starts), np.array(lengths)


def orca_decoders(tmp_path):
    from tierflow.daq.formats.orca.fcio_records import ORFCIOConfigDecoder, ORFCIOEventDecoder

    path = str(tmp_path / "run.orca")
    return ORFCIOConfigDecoder(ORCA_HEADER, path), ORFCIOEventDecoder(ORCA_HEADER, path)


def test_orca_wrapped_config_and_events_give_the_fcio_tables(tmp_path, decoded):
    data = FCIO_FILE.read_bytes()
    (_, config), *records = fcio_records(data)
    config_packet = data[:HEADER] + fcio_record(1, [*config, ints(0), ints(1)])  # streamid 1
    event_packets = [fcio_record(3, items) for _, items in records[:9]]
    config_decoder, event_decoder = orca_decoders(tmp_path)
    assert config_decoder.keys() == ["fcid_1/config"]
    assert event_decoder.keys() == [1_000_000]

    words, starts, lengths = orca_packets([config_packet])
    (config_piece,) = config_decoder.decode(words, starts, lengths, np.array([5]), 0)
    assert config_piece.decoder == "ORFCIOConfigDecoder" and config_piece.keys == "fcid_1/config"
    assert config_piece.obj["packet_id"].nda.tolist() == [5]
    assert config_piece.obj["nsamples"].nda.tolist() == [1836]
    assert config_piece.obj["streamid"].nda.tolist() == [1]

    words, starts, lengths = orca_packets(event_packets)
    pieces = event_decoder.decode(words, starts, lengths, np.arange(6, 15), 4096)
    table = concat([p.obj for p in pieces])
    assert {p.decoder for p in pieces} == {"ORFCIOEventDecoder"}
    assert np.concatenate([p.keys for p in pieces]).tolist() == [1_000_000] * 9
    assert table["packet_id"].nda.tolist() == list(range(6, 15))
    assert table["fcid"].nda.tolist() == [1] * 9
    ref = events(decoded)
    for name in table.keys():
        if name not in ("packet_id", "fcid", "waveform"):
            np.testing.assert_array_equal(table[name].nda, ref[name].nda[:9], err_msg=name)
    np.testing.assert_array_equal(
        table["waveform"]["values"].nda, ref["waveform"]["values"].nda[:9]
    )


def test_orca_wrapped_bad_packets_are_daq_errors(tmp_path):
    data = FCIO_FILE.read_bytes()
    (_, config), *records = fcio_records(data)
    config_decoder, event_decoder = orca_decoders(tmp_path)
    event = fcio_record(3, records[0][1])
    words, starts, lengths = orca_packets([event])
    with pytest.raises(DAQError, match="before its ORFCIOConfig") as info:
        event_decoder.decode(words, starts, lengths, np.array([1]), 4096)
    assert info.value.offset == 4096
    words, starts, lengths = orca_packets(
        [data[:HEADER] + fcio_record(1, [*config, ints(0), ints(1)])]
    )
    config_decoder.decode(words, starts, lengths, np.array([0]), 0)
    for bad in (
        event[:1000],
        b"\x07\0\0\0" + event[4:],
        event[:4] + b"\xff\xff\xff\x7f" + event[8:],
    ):
        words, starts, lengths = orca_packets([bad])
        with pytest.raises(DAQError):
            event_decoder.decode(words, starts, lengths, np.array([1]), 4096)


def test_orca_wrapped_event_header_and_status_records(tmp_path, variants):
    from tierflow.daq.formats.orca.fcio_records import (
        ORFCIOEventHeaderDecoder,
        ORFCIOStatusDecoder,
    )

    data = FCIO_FILE.read_bytes()
    (_, config), *records = fcio_records(data)
    config_decoder, _ = orca_decoders(tmp_path)
    path = config_decoder.path
    words, starts, lengths = orca_packets(
        [data[:HEADER] + fcio_record(1, [*config, ints(0), ints(1)])]
    )
    config_decoder.decode(words, starts, lengths, np.array([0]), 0)
    header_decoder = ORFCIOEventHeaderDecoder(ORCA_HEADER, path)
    status_decoder = ORFCIOStatusDecoder(ORCA_HEADER, path)
    assert header_decoder.keys() == ["fcid_1/evt_hdr"]
    assert status_decoder.keys() == ["fcid_1/status/card0", "fcid_1/status/card8192"]

    kind, pulser, offsets, stamps, traces, dead = records[0][1]
    header = fcio_record(7, [kind, pulser, offsets, stamps, dead, struct.pack("<H", 0), traces[:4]])
    status = fcio_record(
        4, [ints(1), ints(*range(10, 20)), ints(1), ints(len(CARD_STATUS)), CARD_STATUS]
    )
    (hdr,) = header_decoder.decode(*orca_packets([header]), np.array([1]), 0)
    (sts,) = status_decoder.decode(*orca_packets([status]), np.array([2]), 0)
    assert hdr.decoder == "ORFCIOEventHeaderDecoder" and hdr.keys == "fcid_1/evt_hdr"
    assert sts.decoder == "ORFCIOStatusDecoder"
    assert sts.keys.tolist() == ["fcid_1/status/card8192"]
    pieces, _ = variants
    for ours, ref in (
        (hdr.obj, pieces["FCEventHeaderDecoder"][0].obj),
        (sts.obj, pieces["FCStatusDecoder"][0].obj),
    ):
        for name in ours.keys():
            if name in ("packet_id", "fcid"):
                continue
            a, b = ours[name], ref[name].take(slice(0, 1))
            if isinstance(a, VectorOfVectors):
                assert a.view_as("ak").tolist() == b.view_as("ak").tolist(), name
            else:
                np.testing.assert_array_equal(a.nda, b.nda, err_msg=name)


def test_fcio_c_warnings_go_to_logging_naming_the_file(capfd, caplog):
    """fcio's C code printed "FCIO/fcio_get_config/WARNING: ..." straight to stderr on opening
    th228.fcio; it is now a log record that names the file."""
    import logging

    from tierflow.daq.formats.flashcam import FlashCamStream

    with caplog.at_level(logging.WARNING), FlashCamStream(FCIO_FILE) as stream:
        assert "FCEventDecoder" in stream.decoder_keys()
    assert "tracemap" not in capfd.readouterr().err
    messages = [r.getMessage() for r in caplog.records]
    assert any(str(FCIO_FILE) in m and "tracemap size" in m for m in messages), messages

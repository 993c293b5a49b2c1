import numpy as np
from tierflow import lh5
from tierflow.types import Array, Table, VectorOfVectors, WaveformTable

tb = Table({
    "energy": Array(np.array([583.2, 2614.5]), attrs={"units": "keV"}),
    "hits": VectorOfVectors([[1, 2], [3]]),
    "waveform": WaveformTable(values=np.zeros((2, 8192), "uint16"), dt=16, dt_units="ns"),
})
# waveforms encoded per column, bit-exact with LEGEND's codecs
lh5.write(tb, "ch1084803/raw", "run.lh5", wo_mode="overwrite_file",
          codecs={"waveform/values": "radware_sigcompress"})
lh5.write(tb, "ch1084803/raw", "run.lh5")            # appends rows
lh5.read("ch1084803/raw", "run.lh5", field_mask=["energy"], start_row=1).view_as("pd")
lh5.read("ch1084803/raw/energy", ["run.lh5", "run.lh5"], idx=[0, 3])  # rows across files
tb.eval("energy > 1000")                              # numexpr; jagged columns via awkward

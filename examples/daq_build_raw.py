from tierflow import lh5, sim
from tierflow.daq import build_raw

# a simulated run written as LEGEND's DAQ writes it: ORCA with FlashCam records
sim.simulate_daq_file("run.orca", n_events=1000, channels=2, seed=1)

# legend-daq2lh5's routing format: one raw table per channel, a window on the waveforms
routing = {
    "ORFlashCamADCWaveformDecoder": {
        "ch{key:07d}/raw": {
            "key_list": ["*"],
            "out_stream": "run_raw.lh5",
            "proc_spec": {"window": ["waveform", 100, 7900, "waveform_windowed"]},
        }
    },
    "*": {"{name}": {"key_list": ["*"], "out_stream": "run_raw.lh5"}},
}
summary = build_raw("run.orca", out_spec=routing, overwrite=True)
print(summary)
print(lh5.ls("run_raw.lh5"))
print(lh5.read("ch1084803/raw/waveform_windowed", "run_raw.lh5").values.nda.shape)

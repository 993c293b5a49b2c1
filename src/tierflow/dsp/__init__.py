"""Waveform digital signal processing: processors, processing chains and ``build_dsp``."""

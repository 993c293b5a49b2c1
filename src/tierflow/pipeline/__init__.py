"""Running the tiers over many files: raw → dsp → calibration → hit, resumable.

:func:`run_pipeline` (``tierflow run CONFIG``) takes a :class:`PipelineConfig`; files follow
LEGEND's layout (:class:`CycleKey`); :func:`run_demo` (``tierflow demo``) simulates a
calibration run and runs it all.
"""

from .config import CalibrationSettings, PipelineConfig, PipelineConfigError
from .layout import CycleKey, find_raw_files, parameters_path
from .report import PipelineReport, StageReport
from .runner import Pipeline, run_pipeline

__all__ = [
    "CalibrationSettings",
    "CycleKey",
    "Pipeline",
    "PipelineConfig",
    "PipelineConfigError",
    "PipelineReport",
    "StageReport",
    "find_raw_files",
    "parameters_path",
    "run_pipeline",
]

"""What a pipeline run did: per tier the files done, skipped and failed, and the time."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StageReport:
    """One tier of a run.

    >>> s = StageReport("dsp"); s.record("a.lh5", 100, None); s.record("b.lh5", 0, "corrupt")
    >>> s.done, s.rows, s.failures
    (1, 100, [('b.lh5', 'corrupt')])
    """

    name: str
    unit: str = "files"
    done: int = 0
    skipped: int = 0
    rows: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def record(self, what: str, rows: int, error: str | None) -> None:
        if error is None:
            self.done += 1
            self.rows += rows
        else:
            self.failures.append((what, error))


@dataclass
class PipelineReport:
    """All tiers of a run, the calibration results and the total time; ``str()`` is a table."""

    stages: list[StageReport] = field(default_factory=list)
    calibrations: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    executor: str = "serial"

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not any(s.failures for s in self.stages)

    @property
    def failures(self) -> list[tuple[str, str, str]]:
        """(tier, file or channel, reason) of everything that failed."""
        return [(s.name, what, why) for s in self.stages for what, why in s.failures]

    def stage(self, name: str) -> StageReport:
        return next(s for s in self.stages if s.name == name)

    def __str__(self) -> str:
        lines = [
            f"{'tier':<12}{'done':>7}{'skipped':>9}{'failed':>8}{'waveforms':>12}{'time':>9}{'wf/s':>10}",
        ]
        for s in self.stages:
            rate = (
                f"{s.rows / s.seconds:,.0f}"
                if s.unit == "files" and s.rows and s.seconds > 0
                else "-"
            )
            rows = f"{s.rows:,}" if s.unit == "files" else "-"
            lines.append(
                f"{s.name:<12}{s.done:>7}{s.skipped:>9}{len(s.failures):>8}{rows:>12}"
                f"{s.seconds:>8.1f}s{rate:>10}"
            )
        if self.calibrations:
            lines.append("")
            lines.append(f"{'channel':<24}{'FWHM @ 2614.5 keV':>20}{'FWHM @ Qbb':>16}")
            for name, c in self.calibrations.items():
                lines.append(
                    f"{name:<24}{_pm(c.get('fwhm_2614'), c.get('fwhm_2614_err')):>20}"
                    f"{_pm(c.get('fwhm_qbb'), c.get('fwhm_qbb_err')):>16}"
                )
        lines.append("")
        lines.append(f"total {self.seconds:.1f} s on {self.executor}")
        for tier, what, why in self.failures:
            lines.append(f"FAILED {tier}: {what}: {why}")
        return "\n".join(lines)


def _pm(value: float | None, error: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} ± {error:.2f} keV" if error is not None else f"{value:.2f} keV"

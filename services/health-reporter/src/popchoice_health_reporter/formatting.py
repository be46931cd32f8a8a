"""The health report as text (for people) or JSON (one object, for machines), and the console's chart
geometry. No I/O here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from popchoice_common.streams.admin import MinuteCount
from popchoice_health_reporter.report import DuplicateGroup, HealthReport, MovieRef, MovieSample, Sample


def _movie_json(movie: MovieRef) -> dict[str, Any]:
    return {"id": movie.id, "name": movie.name, "year": movie.year}


def _sample_json(sample: Sample) -> dict[str, Any]:
    if isinstance(sample, DuplicateGroup):
        return {**sample.key, "movies": [_movie_json(movie) for movie in sample.movies]}
    return {"id": sample.id, "name": sample.name, "year": sample.year, sample.field: sample.value}


def report_as_dict(report: HealthReport) -> dict[str, Any]:
    """The JSON shape: generated_at, summary (counts, per embedding model, per source), and findings with
    name, description, count and samples."""
    summary = report.summary
    return {
        "generated_at": report.generated_at.isoformat(),
        "summary": {
            "total_movies": summary.total_movies,
            "embedded_movies": summary.embedded_movies,
            "movies_by_embedding_model": dict(summary.movies_by_embedding_model),
            "movies_by_source": dict(summary.movies_by_source),
        },
        "findings": [
            {
                "name": finding.name,
                "description": finding.description,
                "count": finding.count,
                "samples": [_sample_json(sample) for sample in finding.samples],
            }
            for finding in report.findings
        ],
    }


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def format_json(report: HealthReport) -> str:
    return json.dumps(report_as_dict(report), indent=2, ensure_ascii=False, default=_json_default)


def _text_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _movie_text(movie: MovieRef | MovieSample) -> str:
    year = movie.year if movie.year is not None else "n/a"
    return f"#{movie.id} {movie.name} ({year})"


def _sample_text(sample: Sample) -> str:
    if isinstance(sample, DuplicateGroup):
        key = " ".join(f"{column}={_text_value(value)}" for column, value in sample.key.items())
        return f"{key}: " + "; ".join(_movie_text(movie) for movie in sample.movies)
    return f"{_movie_text(sample)}  {sample.field}={_text_value(sample.value)}"


def format_text(report: HealthReport) -> str:
    """A header, the catalog summary, then per finding a line with its count and its samples indented."""
    summary = report.summary
    by_model = ", ".join(f"{model}: {count}" for model, count in summary.movies_by_embedding_model.items())
    by_source = ", ".join(f"{source}: {count}" for source, count in summary.movies_by_source.items())
    lines = [
        f"Catalog health report, {report.generated_at.isoformat()}",
        f"movies: {summary.total_movies}, embedded: {summary.embedded_movies}" + (f" ({by_model})" if by_model else ""),
        *([f"by source: {by_source}"] if by_source else []),
        "",
    ]
    for finding in report.findings:
        lines.append(f"{finding.name}: {finding.count} - {finding.description}")
        lines.extend(f"    {_sample_text(sample)}" for sample in finding.samples)
        if finding.count > len(finding.samples) and finding.samples:
            lines.append(f"    ... and {finding.count - len(finding.samples)} more")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class ThroughputChart:
    """The last hour as two SVG paths in a 600 x 100 viewBox: one bar per minute, failures stacked on
    completions, scaled to the busiest minute. Two paths per chart keep a 50-stream page small."""

    completed_path: str
    failed_path: str
    peak: int
    completed: int
    failed: int


def throughput_bars(minutes: Sequence[MinuteCount], *, width: int = 600, height: int = 100) -> ThroughputChart:
    """Per-minute counts as stacked bars (completed under failed), scaled to the busiest minute."""
    peak = max((done + failed for _, done, failed in minutes), default=0)
    step = width // max(len(minutes), 1)
    bar = max(step - 1, 1)
    scale = height / peak if peak else 0.0
    completed_parts: list[str] = []
    failed_parts: list[str] = []
    for index, (_, done, failed) in enumerate(minutes):
        if done:
            tall = round(done * scale, 1)
            completed_parts.append(f"M{index * step} {height}v-{tall}h{bar}v{tall}z")
        if failed:
            top = round(height - done * scale, 1)
            tall = round(failed * scale, 1)
            failed_parts.append(f"M{index * step} {top}v-{tall}h{bar}v{tall}z")
    return ThroughputChart(
        completed_path="".join(completed_parts),
        failed_path="".join(failed_parts),
        peak=peak,
        completed=sum(minute.completed for minute in minutes),
        failed=sum(minute.failed for minute in minutes),
    )


def duration_text(milliseconds: int | float | None) -> str:
    """A duration for people: 850 ms, 12.3 s, 4 min 5 s, 3 h 2 min; empty for None."""
    if milliseconds is None:
        return ""
    if milliseconds < 1000:
        return f"{int(milliseconds)} ms"
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def ms_time_text(milliseconds: int | str | None) -> str:
    """A Unix time in milliseconds as UTC, to the second; empty for None or blank."""
    if milliseconds is None or milliseconds == "":
        return ""
    moment = datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def datetime_text(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment is not None else ""

import json
from datetime import UTC, datetime

import pytest

from popchoice_common.streams.admin import MinuteCount
from popchoice_health_reporter.formatting import duration_text, format_json, format_text, throughput_bars
from popchoice_health_reporter.report import (
    CatalogSummary,
    DuplicateGroup,
    Finding,
    HealthReport,
    MovieRef,
    MovieSample,
)
from popchoice_health_reporter.service import FINDING_NAMES, ReportOptions, collect_report

GENERATED_AT = datetime(2025, 11, 25, 12, 0, tzinfo=UTC)


def movie_sample(movie_id: int, field: str = "duration", value: object = 0, *, year: int | None = 1995) -> MovieSample:
    return MovieSample(id=movie_id, name=f"Film {movie_id}", year=year, field=field, value=value)


def make_report(*findings: Finding, summary: CatalogSummary | None = None) -> HealthReport:
    return HealthReport(
        generated_at=GENERATED_AT,
        summary=summary or CatalogSummary(total_movies=3, embedded_movies=2, movies_by_embedding_model={"hash-384": 2}),
        findings=findings,
    )


def text_sections(text: str) -> dict[str, list[str]]:
    """Per finding header (name: count), the indented lines under it."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("    ") and current is not None:
            sections[current].append(line.strip())
        elif ": " in line and line.split(": ")[0] in FINDING_NAMES:
            current = line.split(" - ")[0]
            sections[current] = []
    return sections


async def test_text_lists_each_finding_with_its_count_and_planted_samples(db_conn, planted_catalog):
    """The text report has a header line per finding with its count and its planted movies indented below."""
    report = await collect_report(db_conn, ReportOptions())
    sections = text_sections(format_text(report))
    assert [header.split(":")[0] for header in sections] == list(FINDING_NAMES)
    for finding in report.findings:
        lines = sections[f"{finding.name}: {finding.count}"]
        for movie_id in planted_catalog.expected_ids(finding.name):
            assert any(f"#{movie_id} " in line for line in lines), (finding.name, movie_id, lines)
        for movie_id in planted_catalog.clean_ids:
            assert not any(f"#{movie_id} " in line for line in lines), (finding.name, movie_id)
    assert f"    #{planted_catalog.ids['no_runtime']} Heat (1995)  duration=0" in format_text(report)


async def test_json_is_one_object_listing_each_planted_defect(db_conn, planted_catalog):
    """The JSON report is one object with generated_at, summary and every finding with its planted samples."""
    report = await collect_report(db_conn, ReportOptions())
    document = json.loads(format_json(report))
    assert set(document) == {"generated_at", "summary", "findings"}
    assert datetime.fromisoformat(document["generated_at"]) == report.generated_at
    assert document["summary"]["total_movies"] == planted_catalog.total_movies
    assert sum(document["summary"]["movies_by_source"].values()) == planted_catalog.total_movies
    assert [finding["name"] for finding in document["findings"]] == list(FINDING_NAMES)
    for finding in document["findings"]:
        assert set(finding) == {"name", "description", "count", "samples"}
        if finding["name"].startswith("duplicate_"):
            ids = {movie["id"] for group in finding["samples"] for movie in group["movies"]}
        else:
            ids = {sample["id"] for sample in finding["samples"]}
        assert ids == planted_catalog.expected_ids(finding["name"]), finding["name"]
    by_name = {finding["name"]: finding for finding in document["findings"]}
    assert by_name["missing_runtime"]["samples"] == [
        {"id": planted_catalog.ids["no_runtime"], "name": "Heat", "year": 1995, "duration": 0}
    ]
    (group,) = by_name["duplicate_title_year"]["samples"]
    assert (group["normalized_name"], group["year"], len(group["movies"])) == ("thing", 1982, 2)


def test_text_says_how_many_movies_the_samples_leave_out():
    """When a finding counts more than it samples, the text report says how many more there are."""
    finding = Finding("missing_runtime", "movies whose runtime is unknown", 7, (movie_sample(1), movie_sample(2)))
    text = format_text(make_report(finding))
    assert "missing_runtime: 7 - movies whose runtime is unknown\n    #1 Film 1 (1995)  duration=0\n" in text
    assert text.endswith("    ... and 5 more")


def test_text_shows_null_blank_and_missing_years_distinctly():
    """Null values print as null, blank strings as "", and an unknown year as n/a."""
    finding = Finding(
        "missing_age_rating",
        "movies without an age rating",
        2,
        (movie_sample(1, "age_rating", None, year=None), movie_sample(2, "age_rating", "")),
    )
    lines = format_text(make_report(finding)).splitlines()
    assert lines[-2:] == ["    #1 Film 1 (n/a)  age_rating=null", '    #2 Film 2 (1995)  age_rating=""']


def test_text_prints_a_duplicate_group_on_one_line():
    """A duplicate group prints its shared key and then each movie with its id."""
    group = DuplicateGroup(key={"tmdb_id": 593}, movies=(MovieRef(4, "Solaris", 1972), MovieRef(9, "Solyaris", 1972)))
    text = format_text(make_report(Finding("duplicate_tmdb_id", "shared TMDB ids", 1, (group,))))
    assert text.endswith("    tmdb_id=593: #4 Solaris (1972); #9 Solyaris (1972)")


def test_text_header_summarises_the_catalog():
    """The text report opens with the generation time, the movie and embedding counts per model, and
    the movies per source."""
    summary = CatalogSummary(
        total_movies=3,
        embedded_movies=2,
        movies_by_embedding_model={"hash-384": 2},
        movies_by_source={"curated_seed": 2, "discovery": 0, "recommendation": 1, "backfill": 0, "manual": 0},
    )
    lines = format_text(make_report(summary=summary)).splitlines()
    assert lines[:3] == [
        "Catalog health report, 2025-11-25T12:00:00+00:00",
        "movies: 3, embedded: 2 (hash-384: 2)",
        "by source: curated_seed: 2, discovery: 0, recommendation: 1, backfill: 0, manual: 0",
    ]


def test_json_summary_counts_movies_by_source():
    """The JSON summary carries the movies per source."""
    summary = CatalogSummary(
        total_movies=1, embedded_movies=0, movies_by_embedding_model={}, movies_by_source={"recommendation": 1}
    )
    document = json.loads(format_json(make_report(summary=summary)))
    assert document["summary"]["movies_by_source"] == {"recommendation": 1}


def test_json_writes_timestamps_as_iso_8601():
    """Timestamp values in samples are written as ISO 8601 strings."""
    refreshed = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    finding = Finding("stale_tmdb_metadata", "stale", 1, (movie_sample(1, "tmdb_metadata_refreshed_at", refreshed),))
    (sample,) = json.loads(format_json(make_report(finding)))["findings"][0]["samples"]
    assert sample["tmdb_metadata_refreshed_at"] == "2024-01-02T03:04:05+00:00"


def test_throughput_bars_scale_to_the_busiest_minute_and_stack_failures_on_top():
    """The busiest minute fills the chart's height; a minute's failed share sits above its completed share."""
    minutes = [MinuteCount(0, 0, 0), MinuteCount(60_000, 30, 10), MinuteCount(120_000, 20, 0)]
    chart = throughput_bars(minutes, width=300, height=100)
    assert chart.peak == 40 and chart.completed == 50 and chart.failed == 10
    assert chart.completed_path == "M100 100v-75.0h99v75.0zM200 100v-50.0h99v50.0z"
    assert chart.failed_path == "M100 25.0v-25.0h99v25.0z"


def test_an_idle_hour_draws_no_bar():
    """With nothing done in the hour the chart has no bar (and no division by zero)."""
    chart = throughput_bars([MinuteCount(minute * 60_000, 0, 0) for minute in range(60)])
    assert chart.peak == 0 and chart.completed_path == "" and chart.failed_path == ""


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [(None, ""), (850, "850 ms"), (12_340, "12.3 s"), (245_000, "4 min 5 s"), (10_920_000, "3 h 2 min")],
)
def test_durations_read_in_the_largest_sensible_unit(milliseconds, text):
    """Idle times and pending ages print as ms, s, min and s, or h and min."""
    assert duration_text(milliseconds) == text

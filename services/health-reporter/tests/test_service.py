from datetime import timedelta

import asyncpg
import pytest

from popchoice_health_reporter import repository
from popchoice_health_reporter.report import DuplicateGroup
from popchoice_health_reporter.service import (
    FINDING_NAMES,
    ReportOptions,
    UnknownFindingError,
    collect_report,
    parse_finding_names,
    read_only_transaction,
)


def listed_ids(finding) -> set[int]:
    """Movie ids a finding lists, whether its samples are movies or duplicate groups."""
    ids: set[int] = set()
    for sample in finding.samples:
        if isinstance(sample, DuplicateGroup):
            ids.update(movie.id for movie in sample.movies)
        else:
            ids.add(sample.id)
    return ids


@pytest.mark.parametrize("name", FINDING_NAMES)
async def test_each_finding_lists_its_planted_movies_and_no_other(db_conn, planted_catalog, name):
    """A finding's samples are exactly the movies planted with its defect."""
    report = await collect_report(db_conn, ReportOptions())
    finding = report.finding(name)
    expected = planted_catalog.expected_ids(name)
    assert listed_ids(finding) == expected
    assert finding.count == (1 if name.startswith("duplicate_") and expected else len(expected))


async def test_complete_movies_appear_in_no_finding(db_conn, planted_catalog):
    """A movie with every field and every kind of metadata is listed by no finding."""
    report = await collect_report(db_conn, ReportOptions())
    for finding in report.findings:
        assert not listed_ids(finding) & planted_catalog.clean_ids, finding.name


async def test_samples_carry_the_value_the_finding_is_about(db_conn, planted_catalog):
    """Each movie sample names the checked column and holds its value (blank and null kept apart)."""
    report = await collect_report(db_conn, ReportOptions())
    ratings = {sample.id: (sample.field, sample.value) for sample in report.finding("missing_age_rating").samples}
    assert ratings == {
        planted_catalog.ids["null_age_rating"]: ("age_rating", None),
        planted_catalog.ids["blank_age_rating"]: ("age_rating", ""),
    }
    (runtime,) = report.finding("missing_runtime").samples
    assert (runtime.name, runtime.year, runtime.field, runtime.value) == ("Heat", 1995, "duration", 0)
    stale = {sample.id: sample.value for sample in report.finding("stale_tmdb_metadata").samples}
    assert stale[planted_catalog.ids["never_refreshed"]] is None
    assert report.generated_at - stale[planted_catalog.ids["refreshed_long_ago"]] > timedelta(days=399)


async def test_sample_limit_caps_the_samples_but_not_the_count(db_conn, planted_catalog):
    """With a sample limit of 1 a finding still counts every movie and lists the lowest id."""
    report = await collect_report(db_conn, ReportOptions(sample_limit=1))
    finding = report.finding("missing_poster_url")
    assert finding.count == 2
    assert [sample.id for sample in finding.samples] == [planted_catalog.ids["null_poster"]]


async def test_stale_days_moves_the_staleness_cutoff(db_conn, planted_catalog):
    """Metadata refreshed 100 days ago is stale under a 50-day cutoff and the description says so."""
    report = await collect_report(db_conn, ReportOptions(stale_days=50))
    finding = report.finding("stale_tmdb_metadata")
    assert planted_catalog.ids["recently_refreshed"] in listed_ids(finding)
    assert "50 days" in finding.description


async def test_summary_counts_movies_and_embeddings_by_model(db_conn, planted_catalog):
    """The summary counts all movies, the embedded ones, and the embedded ones per model."""
    summary = (await collect_report(db_conn, ReportOptions())).summary
    assert summary.total_movies == planted_catalog.total_movies
    assert summary.movies_by_embedding_model == {
        "hash-384": planted_catalog.total_movies - 2,
        planted_catalog.legacy_embedding_model: 1,
    }
    assert summary.embedded_movies == planted_catalog.total_movies - 1


async def test_summary_counts_movies_by_source(db_conn, movie_factory):
    """Rows are counted by where they came from, every known source listed (zero included)."""
    for index, source in enumerate(["curated_seed", "curated_seed", "discovery", "recommendation"]):
        await movie_factory(db_conn, f"Film {index}", source=source)
    await db_conn.execute("INSERT INTO movies (name) VALUES ('Added By Hand')")
    summary = (await collect_report(db_conn, ReportOptions())).summary
    assert summary.movies_by_source == {
        "curated_seed": 2,
        "discovery": 1,
        "recommendation": 1,
        "backfill": 0,
        "manual": 1,
    }


async def test_duplicate_title_year_groups_movies_by_normalised_title(db_conn, planted_catalog):
    """ "The Thing" from TMDB and the curated "Thing" of the same year form one group; the 2011 remake does not join."""
    (group,) = (await collect_report(db_conn, ReportOptions())).finding("duplicate_title_year").samples
    assert group.key == {"normalized_name": "thing", "year": 1982}
    assert [movie.id for movie in group.movies] == sorted(
        [planted_catalog.ids["tracked_duplicate"], planted_catalog.ids["untracked_duplicate"]]
    )


async def test_duplicate_tmdb_id_lists_groups_when_the_unique_index_is_missing(db_conn, movie_factory):
    """In a database without movies_tmdb_id_key, movies sharing a TMDB id are reported as one group."""
    await db_conn.execute("DROP INDEX movies_tmdb_id_key")
    first = await movie_factory(db_conn, "Solaris", year=1972, tmdb_id=593)
    second = await movie_factory(db_conn, "Solyaris", year=1972, tmdb_id=593)
    await movie_factory(db_conn, "Stalker", year=1979, tmdb_id=1398)
    finding = (await collect_report(db_conn, ReportOptions())).finding("duplicate_tmdb_id")
    assert finding.count == 1
    (group,) = finding.samples
    assert group.key == {"tmdb_id": 593}
    assert [(movie.id, movie.name) for movie in group.movies] == [(first, "Solaris"), (second, "Solyaris")]


async def test_an_empty_catalog_reports_nothing(db_conn):
    """On an empty catalog every finding counts zero and the summary is empty."""
    report = await collect_report(db_conn, ReportOptions())
    assert [finding.name for finding in report.findings] == list(FINDING_NAMES)
    assert all(finding.count == 0 and not finding.samples for finding in report.findings)
    assert (report.summary.total_movies, report.summary.movies_by_embedding_model) == (0, {})
    assert set(report.summary.movies_by_source.values()) == {0}


async def test_the_report_transaction_cannot_write(db_pool, movie_factory):
    """An INSERT inside the report's read-only transaction fails and leaves the catalog unchanged."""
    async with read_only_transaction(db_pool) as connection:
        assert await connection.fetchval("SHOW transaction_read_only") == "on"
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await movie_factory(connection, "Written By The Report", year=2001)
    assert await db_pool.fetchval("SELECT count(*) FROM movies") == 0


async def test_the_report_reads_one_snapshot(db_pool, movie_factory):
    """A movie committed while the report's transaction is open is not seen by that transaction."""
    async with read_only_transaction(db_pool) as connection:
        assert (await repository.catalog_summary(connection)).total_movies == 0
        async with db_pool.acquire() as writer:
            await movie_factory(writer, "Committed Meanwhile", year=2001)
        assert (await repository.catalog_summary(connection)).total_movies == 0


def test_fail_on_names_are_split_on_commas_and_deduplicated():
    """--fail-on values may be repeated or comma-separated; each name is kept once, in order."""
    assert parse_finding_names(["missing_cast, missing_genres", "missing_cast"]) == ("missing_cast", "missing_genres")


def test_unknown_fail_on_names_are_rejected_with_the_valid_names():
    """An unknown finding name raises an error naming it and listing every valid name."""
    with pytest.raises(UnknownFindingError) as caught:
        parse_finding_names(["missing_cast,missing_posters"])
    assert caught.value.unknown == ("missing_posters",)
    assert all(name in str(caught.value) for name in FINDING_NAMES)

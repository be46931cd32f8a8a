import json
import os
import subprocess
import sys

import pytest

from popchoice_health_reporter.app import main
from popchoice_health_reporter.service import FINDING_NAMES


def run_health(database_url: str, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Runs `python -m popchoice_health_reporter` against the test database with these settings."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CATALOG_HEALTH_") and name not in ("LOG_FORMAT", "LOG_LEVEL")
    }
    environment.update(DATABASE_URL=database_url, LOG_FORMAT="json", **settings)
    return subprocess.run(
        [sys.executable, "-m", "popchoice_health_reporter", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_json_output_is_the_whole_of_stdout(database_url, committed_catalog):
    """With --format json, stdout parses as one report object (logs go to stderr) and the exit status is 0."""
    result = run_health(database_url, "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [finding["name"] for finding in document["findings"]] == list(FINDING_NAMES)
    assert document["summary"]["total_movies"] == committed_catalog.total_movies
    assert '"health_report_finished"' in result.stderr


def test_fail_on_a_finding_with_defects_exits_1(database_url, committed_catalog):
    """--fail-on naming a finding that counts more than zero exits 1 after printing the report."""
    result = run_health(database_url, "--fail-on", "duplicate_tmdb_id,missing_runtime")
    assert result.returncode == 1, result.stderr
    assert "missing_runtime: 1" in result.stdout
    assert json.loads(result.stderr.splitlines()[-1])["failing"] == ["missing_runtime"]


def test_fail_on_findings_without_defects_exits_0(database_url, committed_catalog):
    """--fail-on naming only findings that count zero exits 0."""
    result = run_health(database_url, "--fail-on", "duplicate_tmdb_id", "--fail-on", "duplicate_tmdb_id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Catalog health report, ")


def test_settings_choose_the_format_and_the_sample_limit(database_url, committed_catalog):
    """CATALOG_HEALTH_FORMAT=json and CATALOG_HEALTH_SAMPLE_LIMIT=1 give JSON with at most one sample per finding."""
    result = run_health(database_url, CATALOG_HEALTH_FORMAT="json", CATALOG_HEALTH_SAMPLE_LIMIT="1")
    assert result.returncode == 0, result.stderr
    findings = {finding["name"]: finding for finding in json.loads(result.stdout)["findings"]}
    assert all(len(finding["samples"]) <= 1 for finding in findings.values())
    assert findings["missing_poster_url"]["count"] == 2


def test_unknown_fail_on_name_exits_2_and_lists_the_valid_names(capsys):
    """An unknown --fail-on name exits 2 before touching the database, naming it and every valid finding."""
    with pytest.raises(SystemExit) as exited:
        main(["--fail-on", "missing_cast,missing_posters"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "unknown finding missing_posters" in error
    assert all(name in error for name in FINDING_NAMES)

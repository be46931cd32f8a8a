import pytest
from pydantic import ValidationError

from popchoice_health_reporter.config import HealthSettings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ("CATALOG_HEALTH_FORMAT", "CATALOG_HEALTH_SAMPLE_LIMIT", "CATALOG_HEALTH_STALE_DAYS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults():
    """Unset, the report is text with 5 samples per finding and a 180-day staleness cutoff."""
    settings = HealthSettings()
    assert (
        settings.catalog_health_format,
        settings.catalog_health_sample_limit,
        settings.catalog_health_stale_days,
    ) == ("text", 5, 180)


def test_settings_are_read_from_the_environment(monkeypatch):
    """CATALOG_HEALTH_FORMAT, CATALOG_HEALTH_SAMPLE_LIMIT and CATALOG_HEALTH_STALE_DAYS set the report's settings."""
    monkeypatch.setenv("CATALOG_HEALTH_FORMAT", "json")
    monkeypatch.setenv("CATALOG_HEALTH_SAMPLE_LIMIT", "2")
    monkeypatch.setenv("CATALOG_HEALTH_STALE_DAYS", "30")
    settings = HealthSettings()
    assert (
        settings.catalog_health_format,
        settings.catalog_health_sample_limit,
        settings.catalog_health_stale_days,
    ) == ("json", 2, 30)


@pytest.mark.parametrize(
    ("name", "value"),
    [("CATALOG_HEALTH_FORMAT", "yaml"), ("CATALOG_HEALTH_SAMPLE_LIMIT", "-1"), ("CATALOG_HEALTH_STALE_DAYS", "-1")],
)
def test_invalid_settings_are_rejected(monkeypatch, name, value):
    """An unknown format or a negative sample limit or staleness cutoff is a configuration error."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        HealthSettings()

import datetime as dt
import email.utils

import msgspec
import pytest

from popchoice_common.tmdb import parse_retry_after, us_certification
from popchoice_common.tmdb.models import MovieDetails, release_year


def details(*countries):
    payload = {
        "id": 1,
        "title": "X",
        "release_dates": {
            "results": [
                {"iso_3166_1": country, "release_dates": [{"certification": c, "type": t} for t, c in dates]}
                for country, dates in countries
            ]
        },
    }
    return msgspec.json.decode(msgspec.json.encode(payload), type=MovieDetails)


def test_us_certification_prefers_theatrical():
    """A theatrical (type 3) US certification wins over others."""
    assert us_certification(details(("US", [(1, "PG"), (3, "PG-13"), (4, "R")]))) == "PG-13"


def test_us_certification_falls_back_to_any_non_empty():
    """Without a certified theatrical release, any non-empty US certification is used."""
    assert us_certification(details(("US", [(3, ""), (4, "R")]))) == "R"


def test_us_certification_defaults_to_nr():
    """No US entry, or only empty certifications, gives NR."""
    assert us_certification(details(("GB", [(3, "15")]))) == "NR"
    assert us_certification(details(("US", [(3, " ")]))) == "NR"
    assert us_certification(msgspec.json.decode(b'{"id": 2}', type=MovieDetails)) == "NR"


def test_retry_after_in_seconds_and_as_http_date():
    """Retry-After is read as seconds or as an HTTP date."""
    assert parse_retry_after("2") == 2.0
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    later = email.utils.format_datetime(now + dt.timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(30.0)
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_release_year_of_odd_dates():
    """Empty or malformed dates have no year."""
    assert release_year("1999-03-31") == 1999
    assert release_year("") is None and release_year("n/a") is None

import asyncio
import email.utils
import json
import time

import aiohttp
import pytest

from popchoice_common.testing.fake_tmdb import API_KEY, PAGE_SIZE, FakeTMDBServer, make_movie

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def tmdb(fake_tmdb):
    return fake_tmdb


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def get(session, server, path, **params):
    """GET base_url + path; returns (status, headers, decoded JSON or None when the body is not JSON)."""
    query = {key.replace("__", "."): str(value) for key, value in params.items()}
    async with session.get(f"{server.base_url}{path}", params=query) as response:
        raw = await response.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        return response.status, response.headers, body


def add_movies(server, count, **overrides):
    movies = [make_movie(index, f"Film {index}", popularity=float(index), **overrides) for index in range(1, count + 1)]
    server.state.add(*movies)
    return movies


async def test_base_url_ends_in_3(tmdb):
    """The base URL is an http://127.0.0.1 address whose path is /3, like TMDB's."""
    assert tmdb.base_url.startswith("http://127.0.0.1:")
    assert tmdb.base_url.endswith("/3")


async def test_lists_page_by_20_with_totals(tmdb, http):
    """A list pages its films 20 at a time, most popular first, with total_pages and total_results."""
    add_movies(tmdb, 45, lists={"popular"})
    status, _, first = await get(http, tmdb, "/movie/popular")
    assert status == 200
    assert first["page"] == 1
    assert first["total_results"] == 45
    assert first["total_pages"] == 3
    assert len(first["results"]) == PAGE_SIZE
    assert [movie["id"] for movie in first["results"][:3]] == [45, 44, 43]
    _, _, last = await get(http, tmdb, "/movie/popular", page=3)
    assert last["page"] == 3
    assert [movie["id"] for movie in last["results"]] == [5, 4, 3, 2, 1]
    _, _, beyond = await get(http, tmdb, "/movie/popular", page=4)
    assert beyond["results"] == []
    assert beyond["total_pages"] == 3


async def test_list_summaries_have_tmdb_fields(tmdb, http):
    """A list result carries TMDB's summary fields, genres as genre_ids."""
    tmdb.state.add(make_movie(7, "Heat", genres=[(80, "Crime"), (53, "Thriller")], lists={"top_rated"}))
    _, _, body = await get(http, tmdb, "/movie/top_rated")
    (summary,) = body["results"]
    assert set(summary) == {
        "adult",
        "backdrop_path",
        "genre_ids",
        "id",
        "original_language",
        "original_title",
        "overview",
        "popularity",
        "poster_path",
        "release_date",
        "title",
        "video",
        "vote_average",
        "vote_count",
    }
    assert summary["genre_ids"] == [80, 53]
    assert summary["title"] == "Heat"
    assert "dates" not in body


async def test_now_playing_and_upcoming_carry_dates(tmdb, http):
    """now_playing and upcoming answer a dates object with minimum and maximum; popular does not."""
    tmdb.state.add(make_movie(1, "Now", lists={"now_playing"}), make_movie(2, "Soon", lists={"upcoming"}))
    _, _, playing = await get(http, tmdb, "/movie/now_playing", region="US")
    _, _, upcoming = await get(http, tmdb, "/movie/upcoming")
    _, _, popular = await get(http, tmdb, "/movie/popular")
    assert [movie["id"] for movie in playing["results"]] == [1]
    assert [movie["id"] for movie in upcoming["results"]] == [2]
    assert playing["dates"]["minimum"] < playing["dates"]["maximum"]
    assert playing["dates"]["maximum"] < upcoming["dates"]["maximum"]
    assert "dates" not in popular
    assert popular["results"] == []
    assert popular["total_pages"] == 1
    tmdb.state.list_dates["now_playing"] = ("2024-01-01", "2024-02-01")
    _, _, fixed = await get(http, tmdb, "/movie/now_playing")
    assert fixed["dates"] == {"maximum": "2024-02-01", "minimum": "2024-01-01"}


async def test_top_rated_sorts_by_vote_average(tmdb, http):
    """top_rated orders films by vote average, highest first."""
    tmdb.state.add(
        make_movie(1, "Good", vote_average=7.0, popularity=90.0, lists={"top_rated"}),
        make_movie(2, "Best", vote_average=8.9, popularity=10.0, lists={"top_rated"}),
    )
    _, _, body = await get(http, tmdb, "/movie/top_rated")
    assert [movie["id"] for movie in body["results"]] == [2, 1]


async def test_details_without_append(tmdb, http):
    """movie/{id} answers the details object, and nothing appended unless asked."""
    tmdb.state.add(make_movie(603, "The Matrix", runtime=136, genres=[(28, "Action"), (878, "Science Fiction")]))
    status, _, body = await get(http, tmdb, "/movie/603")
    assert status == 200
    assert body["id"] == 603
    assert body["runtime"] == 136
    assert body["genres"] == [{"id": 28, "name": "Action"}, {"id": 878, "name": "Science Fiction"}]
    assert body["imdb_id"] == "tt0000603"
    assert body["status"] == "Released"
    assert {"tagline", "adult", "poster_path", "original_language", "vote_count"} <= set(body)
    assert not {"release_dates", "credits", "keywords"} & set(body)


async def test_details_append_to_response(tmdb, http):
    """append_to_response adds release_dates, credits and keywords in TMDB's shapes."""
    tmdb.state.add(
        make_movie(
            10,
            "Alien",
            release_date="1979-05-25",
            cast=[(1, "Sigourney Weaver", "Ripley"), (2, "Tom Skerritt", "Dallas")],
            directors=[(3, "Ridley Scott")],
            crew=[(4, "Dan O'Bannon", "Screenplay", "Writing")],
            keywords=[(1, "space"), (2, "alien")],
            us_release_dates=[(1, ""), (3, "R")],
            release_dates_other={"GB": [(3, "18")]},
        )
    )
    _, _, body = await get(http, tmdb, "/movie/10", append_to_response="release_dates,credits,keywords")
    countries = {entry["iso_3166_1"]: entry["release_dates"] for entry in body["release_dates"]["results"]}
    assert set(countries) == {"US", "GB"}
    assert [(entry["type"], entry["certification"]) for entry in countries["US"]] == [(1, ""), (3, "R")]
    assert countries["US"][1]["release_date"] == "1979-05-25T00:00:00.000Z"
    assert {"iso_639_1", "note", "descriptors"} <= set(countries["US"][0])
    cast = body["credits"]["cast"]
    assert [(member["id"], member["name"], member["character"], member["order"]) for member in cast] == [
        (1, "Sigourney Weaver", "Ripley", 0),
        (2, "Tom Skerritt", "Dallas", 1),
    ]
    assert cast[0]["known_for_department"] == "Acting"
    crew = {member["job"]: member for member in body["credits"]["crew"]}
    assert crew["Director"]["name"] == "Ridley Scott"
    assert crew["Director"]["department"] == "Directing"
    assert crew["Screenplay"]["department"] == "Writing"
    assert body["keywords"] == {"keywords": [{"id": 1, "name": "space"}, {"id": 2, "name": "alien"}]}
    _, _, partial = await get(http, tmdb, "/movie/10", append_to_response="credits")
    assert "credits" in partial
    assert "release_dates" not in partial
    assert "keywords" not in partial


async def test_omit_fields_and_overrides_change_details(tmdb, http):
    """omit_fields drops keys from details, detail_overrides sets them as given, omit_summary_fields trims lists."""
    tmdb.state.add(make_movie(5, "Gone", lists={"popular"}))
    tmdb.state.omit_fields.update({"runtime", "title", "credits"})
    tmdb.state.detail_overrides[5] = {"vote_count": "many"}
    tmdb.state.omit_summary_fields.add("overview")
    _, _, body = await get(http, tmdb, "/movie/5", append_to_response="credits,keywords")
    assert "runtime" not in body
    assert "title" not in body
    assert "credits" not in body
    assert "keywords" in body
    assert body["vote_count"] == "many"
    _, _, listed = await get(http, tmdb, "/movie/popular")
    assert "overview" not in listed["results"][0]
    assert listed["results"][0]["title"] == "Gone"


async def test_search_matches_title_substrings_case_insensitively(tmdb, http):
    """search/movie matches the query anywhere in the title or original title, whatever the case."""
    tmdb.state.add(
        make_movie(1, "The Godfather", release_date="1972-03-14", popularity=80.0),
        make_movie(2, "The Godfather Part II", release_date="1974-12-20", popularity=60.0),
        make_movie(3, "Amélie", original_title="Le Fabuleux Destin d'Amélie Poulain", release_date="2001-04-25"),
        make_movie(4, "Heat", release_date="1995-12-15"),
    )
    _, _, body = await get(http, tmdb, "/search/movie", query="godFATHER")
    assert [movie["id"] for movie in body["results"]] == [1, 2]
    assert body["total_results"] == 2
    _, _, original = await get(http, tmdb, "/search/movie", query="fabuleux destin")
    assert [movie["id"] for movie in original["results"]] == [3]


async def test_search_filters_by_year(tmdb, http):
    """search/movie keeps only films released in year (or primary_release_year) when given."""
    tmdb.state.add(
        make_movie(1, "Dune", release_date="1984-12-14"),
        make_movie(2, "Dune", release_date="2021-09-15"),
        make_movie(3, "Dune Drifter", release_date=""),
    )
    _, _, by_year = await get(http, tmdb, "/search/movie", query="dune", year=2021)
    assert [movie["id"] for movie in by_year["results"]] == [2]
    _, _, by_primary = await get(http, tmdb, "/search/movie", query="dune", primary_release_year=1984)
    assert [movie["id"] for movie in by_primary["results"]] == [1]
    _, _, any_year = await get(http, tmdb, "/search/movie", query="dune")
    assert {movie["id"] for movie in any_year["results"]} == {1, 2, 3}


async def test_search_without_match_answers_an_empty_page(tmdb, http):
    """A search matching nothing answers page 1 of 1 with no results."""
    tmdb.state.add(make_movie(1, "Heat"))
    status, _, body = await get(http, tmdb, "/search/movie", query="zzz")
    assert status == 200
    assert body == {"page": 1, "results": [], "total_pages": 1, "total_results": 0}


async def test_search_excludes_adult_films_unless_asked(tmdb, http):
    """Adult films are left out of searches unless include_adult=true."""
    tmdb.state.add(make_movie(1, "Night Film", adult=True), make_movie(2, "Night Film Too"))
    _, _, default = await get(http, tmdb, "/search/movie", query="night")
    _, _, included = await get(http, tmdb, "/search/movie", query="night", include_adult="true")
    assert [movie["id"] for movie in default["results"]] == [2]
    assert {movie["id"] for movie in included["results"]} == {1, 2}


async def test_discover_genres_comma_is_and_pipe_is_or(tmdb, http):
    """with_genres treats commas as AND and pipes as OR."""
    tmdb.state.add(
        make_movie(1, "Action only", genres=[(28, "Action")], popularity=3.0),
        make_movie(2, "Action comedy", genres=[(28, "Action"), (35, "Comedy")], popularity=2.0),
        make_movie(3, "Comedy only", genres=[(35, "Comedy")], popularity=1.0),
        make_movie(4, "Drama", genres=[(18, "Drama")], popularity=4.0),
    )
    _, _, both = await get(http, tmdb, "/discover/movie", with_genres="28,35")
    assert [movie["id"] for movie in both["results"]] == [2]
    _, _, either = await get(http, tmdb, "/discover/movie", with_genres="28|35")
    assert [movie["id"] for movie in either["results"]] == [1, 2, 3]


async def test_discover_sorts_and_filters(tmdb, http):
    """discover/movie filters by release dates, vote count and adult, and sorts by popularity or rating."""
    tmdb.state.add(
        make_movie(1, "Old", release_date="1990-01-01", vote_average=9.0, popularity=1.0),
        make_movie(2, "Mid", release_date="2005-06-01", vote_average=6.0, popularity=9.0),
        make_movie(3, "New", release_date="2020-06-01", vote_average=8.0, popularity=5.0),
        make_movie(4, "Few votes", release_date="2010-01-01", vote_count=10, popularity=7.0),
        make_movie(5, "Adult", release_date="2010-01-01", adult=True, popularity=8.0),
        make_movie(6, "Undated", release_date="", popularity=6.0),
    )
    _, _, default = await get(http, tmdb, "/discover/movie")
    assert [movie["id"] for movie in default["results"]] == [2, 4, 6, 3, 1]
    _, _, rated = await get(http, tmdb, "/discover/movie", sort_by="vote_average.desc", vote_count__gte=100)
    assert [movie["id"] for movie in rated["results"]] == [1, 3, 6, 2]
    _, _, ranged = await get(
        http, tmdb, "/discover/movie", primary_release_date__gte="2000-01-01", primary_release_date__lte="2015-12-31"
    )
    assert [movie["id"] for movie in ranged["results"]] == [2, 4]
    _, _, adult = await get(http, tmdb, "/discover/movie", include_adult="true", primary_release_date__gte="2010-01-01")
    assert [movie["id"] for movie in adult["results"]] == [5, 4, 3]


async def test_discover_pages(tmdb, http):
    """discover/movie pages its results 20 at a time."""
    add_movies(tmdb, 25)
    _, _, second = await get(http, tmdb, "/discover/movie", page=2)
    assert second["page"] == 2
    assert second["total_pages"] == 2
    assert second["total_results"] == 25
    assert [movie["id"] for movie in second["results"]] == [5, 4, 3, 2, 1]


async def test_discover_refuses_bad_dates_and_sorts(tmdb, http):
    """A malformed date answers TMDB's code 23, an unknown sort_by its code 5."""
    status, _, body = await get(http, tmdb, "/discover/movie", primary_release_date__gte="2020/01/01")
    assert status == 400
    assert body == {
        "success": False,
        "status_code": 23,
        "status_message": "Invalid date: Format needs to be YYYY-MM-DD.",
    }
    status, _, body = await get(http, tmdb, "/discover/movie", sort_by="luck.desc")
    assert status == 422
    assert body["status_code"] == 5


async def test_genre_list(tmdb, http):
    """genre/movie/list answers TMDB's movie genres as id and name."""
    _, _, body = await get(http, tmdb, "/genre/movie/list", language="en-US")
    assert {"id": 18, "name": "Drama"} in body["genres"]
    assert {"id": 878, "name": "Science Fiction"} in body["genres"]
    assert len(body["genres"]) == 19


async def test_unknown_movie_answers_404_with_tmdb_error(tmdb, http):
    """An unknown film id answers 404 with status_code 34."""
    status, _, body = await get(http, tmdb, "/movie/999999", append_to_response="credits")
    assert status == 404
    assert body == {
        "success": False,
        "status_code": 34,
        "status_message": "The resource you requested could not be found.",
    }
    status, _, body = await get(http, tmdb, "/no/such/path")
    assert status == 404
    assert body["status_code"] == 34


async def test_missing_or_wrong_key_answers_401(tmdb):
    """Without the token (header or api_key) the answer is 401 with status_code 7; either form is accepted."""
    expected = {
        "success": False,
        "status_code": 7,
        "status_message": "Invalid API key: You must be granted a valid key.",
    }
    async with aiohttp.ClientSession() as anonymous:
        status, _, body = await get(anonymous, tmdb, "/genre/movie/list")
        assert (status, body) == (401, expected)
        status, _, body = await get(anonymous, tmdb, "/genre/movie/list", api_key="wrong")
        assert (status, body) == (401, expected)
        status, _, _ = await get(anonymous, tmdb, "/genre/movie/list", api_key=API_KEY)
        assert status == 200
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer wrong"}) as wrong:
        status, _, body = await get(wrong, tmdb, "/movie/popular")
        assert (status, body) == (401, expected)


@pytest.mark.parametrize("page", [0, -1, 501, "two"])
async def test_invalid_page_answers_tmdb_error_22(tmdb, http, page):
    """A page below 1, above 500 or not an integer answers TMDB's invalid-page error."""
    for path in ("/movie/popular", "/discover/movie", "/search/movie"):
        status, _, body = await get(http, tmdb, path, page=page, query="x")
        assert status == 400
        assert body == {
            "success": False,
            "status_code": 22,
            "status_message": "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer.",
        }
    status, _, _ = await get(http, tmdb, "/movie/popular", page=500)
    assert status == 200


async def test_requests_are_recorded(tmdb, http):
    """Each request is recorded with method, path, query, monotonic arrival time and status answered."""
    before = time.monotonic()
    await get(http, tmdb, "/movie/popular", page=2, language="fr-FR")
    await get(http, tmdb, "/movie/1")
    first, second = tmdb.requests
    assert (first.method, first.path, first.query, first.status) == (
        "GET",
        "/3/movie/popular",
        {"page": "2", "language": "fr-FR"},
        200,
    )
    assert (second.path, second.status) == ("/3/movie/1", 404)
    assert before <= first.time <= second.time <= time.monotonic()
    assert first.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_language_is_echoed(tmdb, http):
    """The language parameter is accepted on every endpoint and echoed as Content-Language."""
    status, headers, _ = await get(http, tmdb, "/genre/movie/list", language="de-DE")
    assert status == 200
    assert headers["Content-Language"] == "de-DE"


async def test_sliding_window_rate_limit(tmdb, http):
    """Over the limit in a sliding window the answer is 429 with Retry-After rounded up, and counters track it."""
    tmdb.set_rate_limit(3, 1500)
    answers = await asyncio.gather(*(get(http, tmdb, "/genre/movie/list") for _ in range(5)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200, 200, 200, 429, 429]
    limited = [(headers, body) for status, headers, body in answers if status == 429]
    for headers, body in limited:
        assert headers["Retry-After"] == "2"
        assert body["success"] is False
        assert body["status_code"] == 25
        assert body["status_message"] == "Your request count (#) is over the allowed limit of (3)."
    assert tmdb.state.accepted_count == 3
    assert tmdb.state.over_limit_count == 2
    assert len(tmdb.state.accepted_times) == 3
    await asyncio.sleep(1.6)
    status, _, _ = await get(http, tmdb, "/genre/movie/list")
    assert status == 200
    assert tmdb.state.accepted_count == 4
    assert [request.status for request in tmdb.requests].count(429) == 2


async def test_rate_limit_counts_only_accepted_requests_in_the_window(tmdb, http):
    """Rejected requests do not extend the window: a slot frees once the oldest accepted request leaves it."""
    tmdb.set_rate_limit(2, 600)
    assert (await get(http, tmdb, "/genre/movie/list"))[0] == 200
    await asyncio.sleep(0.3)
    assert (await get(http, tmdb, "/genre/movie/list"))[0] == 200
    assert (await get(http, tmdb, "/genre/movie/list"))[0] == 429
    await asyncio.sleep(0.35)
    assert (await get(http, tmdb, "/genre/movie/list"))[0] == 200
    assert (await get(http, tmdb, "/genre/movie/list"))[0] == 429
    times = tmdb.state.accepted_times
    for index in range(len(times) - 2):
        assert times[index + 2] - times[index] > 0.6


async def test_rate_limit_can_be_disabled_and_resets(tmdb, http):
    """set_rate_limit(None) lifts the limit, and reset() restores the server's own setting."""
    tmdb.set_rate_limit(1, 10_000)
    assert (await get(http, tmdb, "/genre/movie/list"))[0] == 200
    assert (await get(http, tmdb, "/genre/movie/list"))[0] == 429
    tmdb.set_rate_limit(None)
    assert (await get(http, tmdb, "/genre/movie/list"))[0] == 200
    tmdb.set_rate_limit(1)
    tmdb.state.reset()
    assert tmdb.state.requests_per_window is None
    assert tmdb.state.window_ms == 10_000
    assert (tmdb.state.accepted_count, tmdb.state.over_limit_count, tmdb.state.accepted_times) == (0, 0, [])


async def test_rate_limit_from_the_constructor_holds_across_threads():
    """A server built with a limit holds it when clients on other threads and loops hit it at once."""
    server = FakeTMDBServer(requests_per_window=10, window_ms=5000).start()
    try:

        async def burst() -> list[int]:
            async with aiohttp.ClientSession(headers=AUTH) as session:
                answers = await asyncio.gather(*(get(session, server, "/genre/movie/list") for _ in range(8)))
                return [status for status, _, _ in answers]

        results = await asyncio.gather(*(asyncio.to_thread(asyncio.run, burst()) for _ in range(3)))
        statuses = [status for result in results for status in result]
        assert statuses.count(200) == 10
        assert statuses.count(429) == 14
        assert server.state.accepted_count == 10
        assert server.state.over_limit_count == 14
        assert len(server.requests) == 24
        server.state.reset()
        assert server.state.requests_per_window == 10
    finally:
        server.stop()


async def test_fail_next_answers_the_status_on_matching_paths(tmdb, http):
    """fail_next answers the next matching requests with that status and TMDB's error JSON, then recovers."""
    tmdb.state.add(make_movie(1, "Heat"))
    tmdb.state.fail_next(503, count=2, path_contains="/movie/1")
    status, _, _ = await get(http, tmdb, "/genre/movie/list")
    assert status == 200
    for _ in range(2):
        status, _, body = await get(http, tmdb, "/movie/1")
        assert status == 503
        assert body["success"] is False
        assert body["status_code"] == 9
        assert body["status_message"]
    assert (await get(http, tmdb, "/movie/1"))[0] == 200
    tmdb.state.fail_next(500)
    status, _, body = await get(http, tmdb, "/movie/popular")
    assert (status, body["status_code"]) == (500, 11)
    assert (await get(http, tmdb, "/movie/popular"))[0] == 200


async def test_slow_next_delays_responses(tmdb, http):
    """slow_next holds the next response back: a request sent after it is answered first, and then it
    is answered normally."""
    # 2 s: room for the second request's answer on a loaded machine; only the order is asserted.
    tmdb.state.slow_next(2.0, count=1)
    slow = asyncio.create_task(get(http, tmdb, "/genre/movie/list"))
    for _ in range(1000):  # until the first request has arrived
        if tmdb.requests:
            break
        await asyncio.sleep(0.01)
    status, _, _ = await get(http, tmdb, "/genre/movie/list")
    assert status == 200
    held, answered = tmdb.requests
    assert (held.status, answered.status) == (None, 200)  # the first is still being held back
    assert (await slow)[0] == 200
    assert held.status == 200


async def test_slow_next_can_outlast_a_client_timeout(tmdb):
    """A delay longer than the client's timeout makes the client time out."""
    tmdb.state.slow_next(1.0)
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with aiohttp.ClientSession(headers=AUTH, timeout=timeout) as session:
        with pytest.raises(asyncio.TimeoutError):
            await get(session, tmdb, "/genre/movie/list")
    await asyncio.sleep(1.0)


async def test_malformed_next_answers_invalid_json(tmdb, http):
    """malformed_next answers 200 with a truncated body that is not valid JSON, then answers normally."""
    tmdb.state.add(make_movie(1, "Heat"))
    tmdb.state.malformed_next()
    async with http.get(f"{tmdb.base_url}/movie/1", params={"append_to_response": "credits"}) as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        raw = await response.read()
    assert raw.startswith(b"{")
    with pytest.raises(ValueError):
        json.loads(raw)
    status, _, body = await get(http, tmdb, "/movie/1")
    assert status == 200
    assert body["id"] == 1


async def test_force_429_with_seconds_date_or_no_retry_after(tmdb, http):
    """force_429 answers 429 with Retry-After in seconds, as an HTTP date sent verbatim, or without it."""
    moment = email.utils.formatdate(time.time() + 30, usegmt=True)
    tmdb.state.force_429(count=2, retry_after=3)
    tmdb.state.force_429(retry_after=moment)
    tmdb.state.force_429(retry_after=None)
    seen = [await get(http, tmdb, "/movie/popular") for _ in range(4)]
    assert [status for status, _, _ in seen] == [429, 429, 429, 429]
    assert [headers.get("Retry-After") for _, headers, _ in seen] == ["3", "3", moment, None]
    assert all(body["status_code"] == 25 for _, _, body in seen)
    assert (await get(http, tmdb, "/movie/popular"))[0] == 200
    assert tmdb.state.over_limit_count == 0
    assert tmdb.state.accepted_count == 5


async def test_reset_forgets_films_faults_and_requests(tmdb, http):
    """reset() empties films, recorded requests, field omissions and pending faults."""
    tmdb.state.add(make_movie(1, "Heat"))
    tmdb.state.omit_fields.add("title")
    tmdb.state.fail_next(500, count=5)
    tmdb.state.slow_next(5)
    tmdb.state.malformed_next(3)
    tmdb.state.force_429(2)
    tmdb.state.reset()
    assert tmdb.state.movies == {}
    assert tmdb.state.omit_fields == set()
    assert tmdb.requests == []
    status, _, body = await get(http, tmdb, "/movie/1")
    assert (status, body["status_code"]) == (404, 34)


def test_make_movie_defaults_and_overrides():
    """make_movie fills sensible defaults that keyword arguments override."""
    movie = make_movie(42, "Arrival", runtime=None, lists={"popular"})
    assert movie.original_title == "Arrival"
    assert movie.vote_count == 1000
    assert movie.vote_average == 7.5
    assert len(movie.overview) > 50
    assert movie.release_date == "2020-06-15"
    assert movie.genres == [(18, "Drama")]
    assert movie.runtime is None
    assert movie.lists == {"popular"}
    assert movie.us_release_dates == [(3, "PG-13")]
    assert movie.cast and movie.directors and movie.keywords

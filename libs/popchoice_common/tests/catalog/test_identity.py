import pytest

from popchoice_common.catalog.identity import movie_key, normalize_title


def test_normalize_strips_accents_case_and_articles():
    """Accents, case, a leading article and extra whitespace do not change a title's identity."""
    assert normalize_title("  The   Amélie ") == "amelie"
    assert normalize_title("AMÉLIE") == "amelie"


def test_normalize_replaces_ampersand():
    """'&' and 'and' name the same film."""
    assert normalize_title("Harold & Kumar") == normalize_title("Harold and Kumar") == "harold and kumar"


def test_normalize_drops_only_a_leading_article():
    """Only the first word is dropped, and only when it is the/a/an."""
    assert normalize_title("A Quiet Place") == "quiet place"
    assert normalize_title("An American in Paris") == "american in paris"
    assert normalize_title("Anatomy of a Fall") == "anatomy of a fall"
    assert normalize_title("Theater Camp") == "theater camp"


def test_normalize_compatibility_forms():
    """NFKD folds compatibility characters (ligatures, full-width letters)."""
    assert normalize_title("ﬁght club") == "fight club"
    assert normalize_title("ＡＫＩＲＡ") == "akira"


def test_title_that_is_only_an_article_is_kept():
    """A title consisting of an article alone never normalises to an empty string."""
    assert normalize_title("The") == "the"


def test_movie_key_prefers_tmdb_id():
    """A known TMDB id is the key; otherwise the normalised title and year are."""
    assert movie_key(title="Casablanca", year=1942, tmdb_id=289) == "tmdb:289"
    assert movie_key(title="The Casablanca", year=1942) == "title:casablanca:1942"
    assert movie_key(title="Casablanca", year=None) == "title:casablanca:na"


def test_ascii_and_unicode_titles_normalise_alike():
    """The ASCII fast path gives what the full NFKD path gives."""
    assert normalize_title("The Cafe & Me") == normalize_title("The Café & Me") == "cafe and me"
    assert normalize_title("  THE   Matrix  ") == "matrix"


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("WALL-E", "WALL·E"),
        ("WALL-E", "WALL•E"),
        ("Schindler's List", "Schindler’s List"),
        ("Ocean's Eleven", "Oceans Eleven"),
        ("E.T. the Extra-Terrestrial", "E.T. The Extra Terrestrial"),
        ("L.A. Confidential", "LA Confidential"),
        ("Mr. & Mrs. Smith", "Mr and Mrs Smith"),
        ("Léon: The Professional", "Leon - The Professional"),
        ("Mission: Impossible – Dead Reckoning Part One", "Mission Impossible - Dead Reckoning Part One"),
        ("Star Wars: Episode IV – A New Hope", "Star Wars Episode IV — A New Hope"),
        ("Spider-Man: Across the Spider-Verse", "Spider-Man: Across the Spider‐Verse"),
        ("tick, tick... BOOM!", "Tick, Tick…Boom!"),
        ("(500) Days of Summer", "500 Days of Summer"),
        ("Who Framed Roger Rabbit", "Who Framed Roger Rabbit?"),
        ("Airplane!", "Airplane"),
        ("Face/Off", "Face Off"),
        ("Crouching Tiger, Hidden Dragon", "Crouching Tiger Hidden Dragon"),
        ("Æon Flux", "Aeon Flux"),
        ("Das Boot", "Das  Boot"),
        ("The Lord of the Rings: The Return of the King", "Lord of the Rings - The Return of the King"),
        ("Amélie", "AMELIE"),
        ("Ｓｅ７ｅｎ", "Se7en"),
        ("The A-Team", "A-Team"),
    ],
)
def test_spelling_and_punctuation_variants_are_one_title(ours, theirs):
    """Real title pairs that differ only in punctuation, accents, case or '&' normalise alike."""
    assert normalize_title(ours) == normalize_title(theirs)
    assert movie_key(title=ours, year=2000) == movie_key(title=theirs, year=2000)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (("Dune", 1984), ("Dune", 2021)),
        (("Se7en", 1995), ("Seven", 1995)),
        (("Alien", 1979), ("Aliens", 1979)),
        (("Toy Story", 1995), ("Toy Story 2", 1995)),
        (("Rocky II", 1979), ("Rocky III", 1979)),
        (("Rocky II", 1979), ("Rocky 2", 1979)),
        (("10", 1979), ("1.0", 1979)),
        (("M*A*S*H", 1970), ("MASH", 1970)),
        (("Romeo + Juliet", 1996), ("Romeo and Juliet", 1996)),
        (("Her", 2013), ("Here", 2013)),
        (("Us", 2019), ("Up", 2019)),
        (("Ghostbusters", 1984), ("Ghost Busters", 1984)),
    ],
)
def test_distinct_films_keep_distinct_keys(one, other):
    """Different years, sequel numbers, digits and meaningful symbols keep two films apart."""
    assert movie_key(title=one[0], year=one[1]) != movie_key(title=other[0], year=other[1])


def test_punctuation_only_titles_keep_a_key_of_their_own():
    """A title that is only punctuation never normalises to an empty string, and two such titles differ."""
    assert normalize_title("?") == "?"
    assert normalize_title("...") == "..."
    assert normalize_title("?") != normalize_title("!")


def test_normalisation_is_stable():
    """Normalising a normalised title changes nothing (keys are computed from stored names and from names again)."""
    for title in (
        "WALL·E",
        "E.T. the Extra-Terrestrial",
        "tick, tick... BOOM!",
        "Léon: The Professional",
        "The A-Team",
    ):
        once = normalize_title(title)
        assert normalize_title(once) == once

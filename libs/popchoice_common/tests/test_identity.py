from popchoice_common.identity import movie_key, normalize_title


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

import re

import pytest

from popchoice_gateway.i18n import LANGUAGES, Translator, accepted_language, catalog, request_language, request_locale


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("de-DE,de;q=0.9,fi;q=0.5,en;q=0.4", "fi"),
        ("en;q=0.3, fi;q=0.8", "fi"),
        ("fi;q=0, ru", "ru"),
        ("de-DE, fr", None),
        ("", None),
        ("ru;q=abc, en", "en"),
    ],
)
def test_accept_language_picks_our_most_preferred_language(header, language):
    """The best of our languages by q-value (q=0 and malformed q never win); None when none is ours."""
    assert accepted_language(header) == language


def test_the_cookie_overrides_accept_language_and_unknown_cookies_are_ignored():
    """A language cookie naming one of ours wins; any other value falls back to Accept-Language, then English."""
    assert request_language("fi", "ru") == "fi"
    assert request_language("xx", "ru") == "ru"
    assert request_language(None, "de") == "en"
    assert (request_locale("ru", None), request_locale(None, "fi-FI"), request_locale(None, None)) == (
        "ru-RU",
        "fi-FI",
        "en-US",
    )


def _keys(node, prefix=""):
    found = {}
    for key, value in node.items():
        if isinstance(value, dict):
            found.update(_keys(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = value
    return found


@pytest.mark.parametrize("language", [language for language in LANGUAGES if language != "en"])
def test_every_page_string_is_translated_with_the_same_placeholders(language):
    """Each language has every English key, no key English lacks, and the same {placeholders}."""
    english, other = _keys(catalog("en")), _keys(catalog(language))
    assert set(other) == set(english)
    for key, text in english.items():
        assert set(re.findall(r"{\w+}", other[key])) == set(re.findall(r"{\w+}", text)), key
        assert other[key].strip(), key


def test_the_translator_formats_values_and_names_a_missing_key():
    """t("key", n=2) fills placeholders; an unknown key is an error, not a blank on the page."""
    t = Translator("ru")
    assert t("quiz.person", n=2) == "Участник 2"
    with pytest.raises(KeyError):
        t("quiz.nothing")

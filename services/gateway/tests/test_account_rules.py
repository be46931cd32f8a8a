import pytest

from popchoice_gateway.accounts.rules import (
    InvalidEmail,
    WeakPassword,
    check_password,
    common_passwords,
    normalize_email,
)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("  Ada@Example.COM ", "ada@example.com"),
        ("ADA.lovelace+films@example.co.uk", "ada.lovelace+films@example.co.uk"),
        ("ａｄａ@example.com", "ada@example.com"),
        ("ada@bücher.example", "ada@xn--bcher-kva.example"),
    ],
)
def test_emails_are_normalised(raw, normalised):
    """An address is trimmed, NFKC-folded and lowercased, its domain in IDNA form."""
    assert normalize_email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "ada",
        "@example.com",
        "ada@",
        "ada@example",
        "a da@example.com",
        "ada@-example.com",
        "ada..b@example.com",
        "ada@exa_mple.com",
        "x" * 65 + "@example.com",
        "ada@" + "a" * 250 + ".com",
    ],
)
def test_malformed_emails_are_refused(raw):
    """Something that cannot be an address raises InvalidEmail with a reason."""
    with pytest.raises(InvalidEmail):
        normalize_email(raw)


def test_passwords_need_ten_characters():
    """Nine characters are too few; ten of anything uncommon are enough."""
    with pytest.raises(WeakPassword, match="at least 10"):
        check_password("tr0ub4dor")
    check_password("tr0ub4dor&")


@pytest.mark.parametrize("password", ["1234567890", "qwertyuiop", "Password12", "BASKETBALL"])
def test_common_passwords_are_refused_in_any_case(password):
    """A password on the bundled list is refused, whatever its case."""
    with pytest.raises(WeakPassword, match="most common"):
        check_password(password)


def test_the_bundled_list_is_small_and_long_enough_to_matter():
    """The list holds only passwords the length rule lets through, lowercase."""
    listed = common_passwords()
    assert 1000 < len(listed) < 5000
    assert all(len(password) >= 10 and password == password.lower() for password in listed)


def test_the_email_is_not_a_password():
    """The account's own address (or its local part) is refused as its password."""
    with pytest.raises(WeakPassword, match="e-mail"):
        check_password("ada.lovelace@example.com", email="ada.lovelace@example.com")
    with pytest.raises(WeakPassword, match="e-mail"):
        check_password("Ada.Lovelace", email="ada.lovelace@example.com")


def test_very_long_passwords_are_refused():
    """More than 256 characters is refused (Argon2 would take them, but nobody types them)."""
    with pytest.raises(WeakPassword, match="at most"):
        check_password("x" * 257)

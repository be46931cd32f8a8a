"""The account pages in-process on the real PostgreSQL and Redis: plain HTML forms (no JS) for signing
up, in and out, a password reset by mail, the account page (history, movie-memory trainer, deletion)
and the feedback buttons, each error worded next to its field."""

import re
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from popchoice_common.testing.factories import insert_movie, insert_pick, insert_recommendation
from popchoice_gateway.app import create_app
from popchoice_gateway.config import GatewaySettings

from .accounts_helpers import PASSWORD, Browser
from .test_pages import assert_page_is_locked_down

TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class FormBrowser(Browser):
    """A browser without JS: it reads each page's CSRF token and posts forms with it."""

    def page(self, url: str, **kwargs):
        answer = self.get(url, **kwargs)
        found = TOKEN.search(answer.text)
        if found:
            self.token = found.group(1)
        return answer

    def submit(self, url: str, fields: dict[str, str], *, token: bool = True, **kwargs):
        data = {**fields, **({"csrf_token": self.token} if token else {})}
        return self.post(url, data=data, follow_redirects=False, **kwargs)

    def sign_up(self, email: str, password: str = PASSWORD, name: str = ""):
        self.page("/signup")
        return self.submit("/signup", {"email": email, "password": password, "displayName": name})


@pytest.fixture
def app(gateway_env):
    with TestClient(create_app(GatewaySettings())) as test_client:
        yield test_client


@pytest.fixture
def ann(app):
    person = FormBrowser(app)
    assert person.sign_up("ann@example.test", name="Ann").status_code == 303
    return person


def field_error(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field_id}-error"( hidden)?>([^<]*)</p>', html)
    assert found is not None, field_id
    return "" if found.group(1) else found.group(2)


def test_signing_up_signs_in_and_the_header_names_the_person(app):
    """The sign-up form creates the account and its session; every page's header then names the person,
    links the account and offers a sign-out form, and carries the CSRF token the page's forms echo."""
    person = FormBrowser(app)
    form = person.page("/signup")
    assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
    assert_page_is_locked_down(form)
    assert '<label for="f-email">E-mail</label>' in form.text and 'href="/signin"' in form.text
    answer = person.sign_up("Bea@Example.test", name="Bea")
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert person.session_id
    quiz = person.page("/")
    assert quiz.headers["cache-control"] == "no-store"
    assert '<span class="who" title="bea@example.test">Bea</span>' in quiz.text
    assert 'href="/account"' in quiz.text and 'action="/signout"' in quiz.text and ">Sign in<" not in quiz.text
    token = TOKEN.search(quiz.text)
    assert token is not None and token.group(1) == person.cookies.get("__csrf")


def test_sign_up_errors_appear_next_to_their_fields_in_the_readers_language(app):
    """A bad e-mail, a common password and a taken address are each shown next to their field (the first
    in error focused, marked invalid), in Russian for a Russian reader; nothing is signed in."""
    person = FormBrowser(app)
    person.page("/signup")
    bad = person.submit("/signup", {"email": "not-an-address", "password": "", "displayName": ""})
    assert bad.status_code == 422
    assert field_error(bad.text, "f-email") == "Please enter an e-mail address like name@example.com."
    assert field_error(bad.text, "f-password") == "Please fill this in."
    assert field_error(bad.text, "f-displayName") == ""
    assert re.search(r'id="f-email"[^>]*aria-invalid="true" autofocus', bad.text)
    assert 'value="not-an-address"' in bad.text
    common = person.submit("/signup", {"email": "cy@example.test", "password": "password123", "displayName": ""})
    assert field_error(common.text, "f-password") == "This is one of the most common passwords. Please choose another."
    short = person.submit(
        "/signup", {"email": "cy@example.test", "password": "short"}, headers={"Accept-Language": "ru"}
    )
    assert field_error(short.text, "f-password") == "Пароль должен быть не короче 10 символов."
    assert person.session_id is None
    FormBrowser(app).sign_up("cy@example.test")
    taken = person.submit("/signup", {"email": "cy@example.test", "password": PASSWORD})
    assert taken.status_code == 409
    assert field_error(taken.text, "f-email") == "An account with this e-mail already exists. Sign in instead?"


def test_a_form_without_its_csrf_token_is_refused(app):
    """Signing in without the form's token (or with another one) is refused and shows why; nobody is signed in."""
    FormBrowser(app).sign_up("dee@example.test")
    person = FormBrowser(app)
    person.page("/signin")
    refused = person.submit("/signin", {"email": "dee@example.test", "password": PASSWORD}, token=False)
    assert refused.status_code == 403 and "This form has expired. Please try again." in refused.text
    person.token = "x" * 43
    assert person.submit("/signin", {"email": "dee@example.test", "password": PASSWORD}).status_code == 403
    assert person.session_id is None


def test_signing_in_and_out(app):
    """A wrong password is one form-wide message; the right one signs in and goes where the person was
    going (never to another site); signing out ends the session and says so."""
    FormBrowser(app).sign_up("eve@example.test")
    person = FormBrowser(app)
    person.page("/signin?next=/account")
    wrong = person.submit("/signin", {"email": "eve@example.test", "password": "not the password", "next": "/account"})
    assert wrong.status_code == 401 and "The e-mail or password is not right." in wrong.text
    signed = person.submit("/signin", {"email": "eve@example.test", "password": PASSWORD, "next": "//evil.example/x"})
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    session = person.session_id
    assert session and person.page("/account").status_code == 200
    out = person.submit("/signout", {})
    assert out.status_code == 303 and out.headers["location"] == "/signin?notice=signed_out"
    assert person.session_id is None
    person.cookies.set("__session", session)
    assert person.get("/account", follow_redirects=False).headers["location"] == "/signin?next=/account"
    assert "You are signed out." in person.page("/signin?notice=signed_out").text


def test_a_password_reset_from_the_mailed_link(app, tmp_path):
    """The reset mail links to the reset page; a new password set there works once, ends every session,
    and signing in with it works; the link does not work twice."""
    ann = FormBrowser(app)
    ann.sign_up("fay@example.test")
    person = FormBrowser(app)
    person.page("/forgot-password")
    sent = person.submit("/forgot-password", {"email": "fay@example.test"})
    assert sent.status_code == 202 and "If an account exists for that address" in sent.text
    mails = list(Path(tmp_path, "outbox").glob("*.eml"))
    assert len(mails) == 1
    mail = message_from_bytes(mails[0].read_bytes(), policy=policy.default)
    assert isinstance(mail, EmailMessage)
    text = mail.get_content()
    link = re.search(r"http://\S+/reset-password\?token=\S+", text)
    assert link is not None
    parts = urlsplit(link.group(0))
    form = person.page(f"{parts.path}?{parts.query}")
    hidden = re.search(r'name="token" value="([^"]+)"', form.text)
    assert hidden is not None
    token = hidden.group(1)
    weak = person.submit("/reset-password", {"token": token, "password": "short"})
    assert field_error(weak.text, "f-password") == "The password must be at least 10 characters long."
    done = person.submit("/reset-password", {"token": token, "password": "a brand new passphrase"})
    assert done.status_code == 303 and done.headers["location"] == "/signin?notice=password_changed"
    assert ann.get("/account", follow_redirects=False).status_code == 303
    again = person.submit("/reset-password", {"token": token, "password": "another new passphrase"})
    assert again.status_code == 400 and "This reset link is not valid" in again.text
    person.page("/signin")
    signed = person.submit("/signin", {"email": "fay@example.test", "password": "a brand new passphrase"})
    assert signed.status_code == 303


async def test_the_account_page_lists_the_history(app, ann, db_pool):
    """The account page needs a session, and links each of the person's recommendations by its main pick."""
    assert FormBrowser(app).get("/account", follow_redirects=False).headers["location"] == "/signin?next=/account"
    user_id = await db_pool.fetchval("SELECT id FROM users WHERE email = 'ann@example.test'")
    recommendation_id = await insert_recommendation(db_pool, user_id=user_id, status="completed", stage="complete")
    await insert_pick(db_pool, recommendation_id, "tmdb:949", name="Heat <1995>", is_main_recommendation=True)
    page = ann.page("/account")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert_page_is_locked_down(page)
    assert f'<a href="/r/{recommendation_id}">Heat &lt;1995&gt;</a>' in page.text
    assert "Signed in as Ann (ann@example.test)" in page.text


async def test_the_movie_memory_trainer_marks_a_film_and_undoes_it(app, ann, db_pool):
    """A film found by title is marked watched (the button pressed), shows in the list, and the list's
    undo forgets it; pressing the pressed button again forgets it too."""
    await insert_movie(db_pool, "The Godfather", 1972, tmdb_id=238)
    found = ann.page("/account?q=godfater")
    assert "Films matching “godfater”" in found.text and "The Godfather" in found.text
    marked = ann.submit("/account/memory", {"movie_key": "tmdb:238", "kind": "watched", "back": "/account?q=godfater"})
    assert marked.status_code == 303 and marked.headers["location"] == "/account?q=godfater#memory-status"
    page = ann.page("/account?q=godfater")
    assert re.search(r'value="watched" class="chip" aria-pressed="true"', page.text)
    listed = re.search(r'<ul class="films stored">(.*?)</ul>', page.text, re.S)
    assert listed and "The Godfather" in listed.group(1) and "Watched" in listed.group(1)
    undone = ann.submit("/account/memory/forget", {"movie_key": "tmdb:238", "back": "/account"})
    assert undone.headers["location"] == "/account#memory-list"
    assert '<ul class="films stored">' not in ann.page("/account").text
    ann.submit("/account/memory", {"movie_key": "tmdb:238", "kind": "liked", "back": "https://evil.example/"})
    toggled = ann.submit("/account/memory", {"movie_key": "tmdb:238", "kind": "liked", "back": "/account"})
    assert toggled.headers["location"] == "/account#memory-status"
    assert await db_pool.fetchval("SELECT count(*) FROM user_movie_interactions") == 0
    bad = ann.submit("/account/memory", {"movie_key": "tmdb:238", "kind": "meh", "back": "/account"})
    assert bad.status_code == 422 and "This is not valid." in bad.text


async def test_feedback_buttons_are_the_owners_and_toggle_without_js(app, ann, db_pool):
    """The owner sees each pick's feedback buttons; a button's form gives that feedback (pressed after),
    the same button again takes it back; someone else sees no buttons and is refused."""
    user_id = await db_pool.fetchval("SELECT id FROM users WHERE email = 'ann@example.test'")
    recommendation_id = await insert_recommendation(db_pool, user_id=user_id, status="completed", stage="complete")
    for position, key in enumerate(("tmdb:949", "tmdb:680")):
        await insert_pick(db_pool, recommendation_id, key, position=position, is_main_recommendation=position == 0)
    page = ann.page(f"/r/{recommendation_id}")
    assert page.text.count('<form class="feedback"') == 2 and '<script src="/assets/feedback.js" defer>' in page.text
    assert app.get("/assets/feedback.js").status_code == 200
    assert_page_is_locked_down(page)
    tick = '<span class="tick" aria-hidden="true">✓ </span>'
    assert f'value="already_watched" class="chip" aria-pressed="false">{tick}Watched it<' in page.text
    given = ann.submit(f"/r/{recommendation_id}/feedback", {"movie_key": "tmdb:949", "kind": "already_watched"})
    assert given.status_code == 303 and given.headers["location"] == f"/r/{recommendation_id}#pick-tmdb-949"
    after = ann.page(f"/r/{recommendation_id}").text
    assert after.count('aria-pressed="true"') == 1
    assert re.search(r'value="already_watched" class="chip" aria-pressed="true"', after)
    assert await db_pool.fetchval("SELECT kind FROM user_movie_interactions WHERE movie_key = 'tmdb:949'") == "watched"
    ann.submit(f"/r/{recommendation_id}/feedback", {"movie_key": "tmdb:949", "kind": "already_watched"})
    assert await db_pool.fetchval("SELECT count(*) FROM recommendation_feedback") == 0
    bob = FormBrowser(app)
    bob.sign_up("bob@example.test")
    assert bob.get(f"/r/{recommendation_id}").status_code == 404
    refused = bob.submit(f"/r/{recommendation_id}/feedback", {"movie_key": "tmdb:949", "kind": "useful"})
    assert refused.status_code == 403 and "Only the person these picks were made for" in refused.text


async def test_deleting_the_account_needs_its_password(app, ann, db_pool):
    """A wrong password is shown next to the deletion's password field and deletes nothing; the right one
    deletes the account, signs out and says so."""
    page = ann.page("/account")
    assert 'action="/account/delete"' in page.text and 'action="/signout-everywhere"' in page.text
    wrong = ann.submit("/account/delete", {"password": "not my password"})
    assert wrong.status_code == 403 and field_error(wrong.text, "delete-password") == "The password is not right."
    assert await db_pool.fetchval("SELECT count(*) FROM users") == 1
    deleted = ann.submit("/account/delete", {"password": PASSWORD})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/account/deleted"
    assert await db_pool.fetchval("SELECT count(*) FROM users") == 0
    assert ann.session_id is None
    assert "Your account is deleted" in ann.page("/account/deleted").text


def test_signing_out_everywhere_ends_every_session(app, ann):
    """Sign-out-everywhere ends the sessions of the account's other browsers too."""
    other = FormBrowser(app)
    other.page("/signin")
    assert other.submit("/signin", {"email": "ann@example.test", "password": PASSWORD}).status_code == 303
    ann.page("/account")
    out = ann.submit("/signout-everywhere", {})
    assert out.headers["location"] == "/signin?notice=signed_out_everywhere"
    assert other.get("/account", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("path", ["/signin", "/signup", "/forgot-password", "/reset-password?token=abc"])
@pytest.mark.parametrize("language", ["en", "ru", "fi"])
def test_every_account_form_renders_in_each_language_and_is_locked_down(app, path, language):
    """Each form page renders in en, ru and fi with labelled fields, no inline script, and no-store."""
    answer = FormBrowser(app).get(path, headers={"Accept-Language": language})
    assert answer.status_code == 200 and answer.headers["content-language"] == language
    assert answer.headers["cache-control"] == "no-store"
    assert_page_is_locked_down(answer)
    for control in re.findall(r'<input id="([^"]+)"', answer.text):
        assert f'<label for="{control}">' in answer.text


def test_the_reset_page_without_a_token_says_the_link_is_not_valid(app):
    """Opened without its token, the reset page says the link is not valid and offers a new one."""
    answer = FormBrowser(app).get("/reset-password")
    assert "This reset link is not valid" in answer.text and 'href="/forgot-password"' in answer.text


def test_anonymous_header_offers_sign_in_back_to_this_page(app):
    """Anonymous pages offer "Sign in" (returning to the page) and "Sign up", and carry no CSRF token."""
    some_id = uuid.uuid4()
    answer = app.get(f"/r/{some_id}")
    assert f'href="/signin?next=/r/{some_id}"' in answer.text and 'href="/signup"' in answer.text
    quiz = app.get("/")
    assert 'href="/signin"' in quiz.text and "csrf-token" not in quiz.text
    assert quiz.headers["cache-control"] == "no-cache"

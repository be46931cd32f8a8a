"""The LLM client against the fake OpenAI server: pitches through structured output, JSON recovered
from servers that ignore response_format, catalog text (None) only for real failures, moderation in
one call."""

import pytest

from popchoice_common import llm as llm_module
from popchoice_common.llm import FilmForPitch, ModerationAnswerMismatch, pitches_from_text

FILMS = [
    FilmForPitch("Heat", 1995, "A master thief and a relentless detective circle each other."),
    FilmForPitch("Ronin", 1998, "Mercenaries chase a mysterious case through Paris."),
]


class RecordingLog:
    """Stands in for the module's structlog logger and keeps what was logged."""

    def __init__(self):
        self.events = []

    def __getattr__(self, level):
        return lambda event, **fields: self.events.append((level, event, fields))


@pytest.fixture
def logged(monkeypatch):
    recording = RecordingLog()
    monkeypatch.setattr(llm_module, "log", recording)
    return recording.events


def ignoring_response_format(fake_openai, reply):
    fake_openai.state.ignores_response_format = True
    fake_openai.state.chat_reply = lambda _messages: reply


async def test_pitches_come_from_structured_output(llm_client, fake_openai):
    """The call asks for a strict JSON schema and the model's pitches come back, one per film, in order."""
    assert await llm_client.pitches("tense heists", FILMS, "en-US") == [
        "Heat: a fitting pick for this quiz.",
        "Ronin: a fitting pick for this quiz.",
    ]
    (request,) = fake_openai.requests
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert response_format["json_schema"]["schema"]["required"] == ["pitches"]


@pytest.mark.parametrize(
    "reply",
    [
        'Here you go!\n```json\n{"pitches": ["First.", "Second."]}\n```\nEnjoy the films.',
        'Sure, here are the pitches: {"pitches": ["First.", "Second."]}',
        '```\n["First.", "Second."]\n```',
        '{"pitches": ["First.", "Second."]}',
    ],
    ids=["fenced", "prefixed", "bare-array", "plain-json"],
)
async def test_json_from_a_server_that_ignores_response_format_is_used(llm_client, fake_openai, logged, reply):
    """Fenced JSON, JSON after a sentence, or a bare array of strings still gives the model's pitches."""
    ignoring_response_format(fake_openai, reply)
    assert await llm_client.pitches("tense heists", FILMS, "en-US") == ["First.", "Second."]
    assert not [event for level, event, _ in logged if level == "warning"]


async def test_garbage_falls_back_to_catalog_text_with_one_log_line(llm_client, fake_openai, logged):
    """An answer with no pitches JSON gives None for every film and one warning naming the reason."""
    ignoring_response_format(fake_openai, "I'd rather talk about {the weather} and [things].")
    assert await llm_client.pitches("tense heists", FILMS, "en-US") == [None, None]
    assert logged == [("warning", "pitches_unavailable", {"reason": "no_pitches_json", "films": 2})]


async def test_a_server_error_falls_back_to_catalog_text(llm_client, fake_openai, logged):
    """A 5xx (after the client's one retry) gives None for every film."""
    fake_openai.state.forced_failures.extend([(503, "overloaded"), (503, "overloaded")])
    assert await llm_client.pitches("tense heists", FILMS, "en-US") == [None, None]
    assert logged == [("warning", "pitches_unavailable", {"reason": "InternalServerError", "films": 2})]


async def test_fewer_pitches_than_films_leave_the_rest_to_the_catalog(llm_client, fake_openai):
    """A short answer fills the first films; the others get None."""
    fake_openai.state.structured_reply = lambda _messages: {"pitches": ["Only one."]}
    assert await llm_client.pitches("tense heists", FILMS, "en-US") == ["Only one.", None]


def test_pitches_from_text_skips_json_that_is_not_pitches():
    """A JSON value of another shape before the pitches is passed over; no pitches at all is None."""
    assert pitches_from_text('Note {"ok": true} then {"pitches": ["A."]}') == ["A."]
    assert pitches_from_text("See [1] and [2].") is None
    assert pitches_from_text('```json\n{"pitches": [1, 2]}\n```') is None


async def test_moderation_sends_every_text_in_one_call(llm_client, fake_openai):
    """moderate() sends the texts as one list and returns the verdicts in order."""
    fake_openai.state.moderation_terms["gore"] = "violence/graphic"
    verdicts = await llm_client.moderate(["Heat", "gore", "calm"])
    assert [verdict.flagged for verdict in verdicts] == [False, True, False]
    assert verdicts[1].categories == frozenset({"violence/graphic"})
    assert [request.body["input"] for request in fake_openai.requests] == [["Heat", "gore", "calm"]]


async def test_a_moderation_answer_of_the_wrong_length_is_an_error(llm_client, monkeypatch):
    """Verdicts that cannot be matched to the inputs are never guessed at."""
    original = llm_client._client.moderations.create

    async def one_result_short(**kwargs):
        response = await original(**kwargs)
        response.results.pop()
        return response

    monkeypatch.setattr(llm_client._client.moderations, "create", one_result_short)
    with pytest.raises(ModerationAnswerMismatch):
        await llm_client.moderate(["Heat", "Ronin"])

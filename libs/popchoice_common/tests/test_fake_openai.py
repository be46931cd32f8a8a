"""The fake OpenAI server answers as the real API does: prose unless JSON is asked for through
response_format, strict schemas checked, and moderation one result per input, in order."""

import json

import openai
import pytest
from pydantic import BaseModel

from popchoice_common.testing.fake_openai import API_KEY, PROSE_REPLY

FILMS_PROMPT = 'Answer as JSON: {"pitches": ["...", ...]}.'
FILMS_LISTING = "Films:\n1. Heat (1995): A thief.\n2. Ronin (1998): Mercenaries."


class Pitches(BaseModel):
    pitches: list[str]


@pytest.fixture
async def client(fake_openai):
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=fake_openai.base_url, max_retries=0)
    yield client
    await client.close()


def messages(system=FILMS_PROMPT, user=FILMS_LISTING):
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


async def test_without_response_format_the_answer_is_prose(client):
    """A prompt that only asks for JSON gets prose back, as from a real model nothing constrains."""
    answer = await client.chat.completions.create(model="gpt-4o-mini", messages=messages())
    content = answer.choices[0].message.content
    assert content == PROSE_REPLY
    with pytest.raises(ValueError):
        json.loads(content)


async def test_json_schema_answers_conform_to_the_schema(client, fake_openai):
    """With a strict json_schema the answer parses into the schema, one array entry per listed film."""
    answer = await client.chat.completions.parse(model="gpt-4o-mini", messages=messages(), response_format=Pitches)
    assert answer.choices[0].message.parsed == Pitches(
        pitches=["Heat: a fitting pick for this quiz.", "Ronin: a fitting pick for this quiz."]
    )
    sent = fake_openai.requests[-1].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True


async def test_a_strict_schema_that_breaks_the_rules_is_refused(client):
    """A strict schema with an open object or an optional property is a 400, as the real API answers."""
    open_object = {"type": "object", "properties": {"pitches": {"type": "array", "items": {"type": "string"}}}}
    for schema in (open_object, {**open_object, "additionalProperties": False}):
        with pytest.raises(openai.BadRequestError, match="Invalid schema for response_format 'pitches'"):
            await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=messages(),
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "pitches", "schema": schema, "strict": True},
                },
            )


async def test_json_object_needs_the_word_json_and_answers_an_object(client):
    """json_object mode is refused without "json" in the messages; with it the answer is a JSON object."""
    with pytest.raises(openai.BadRequestError, match="must contain the word 'json'"):
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages(system="Pitch these."), response_format={"type": "json_object"}
        )
    answer = await client.chat.completions.create(
        model="gpt-4o-mini", messages=messages(), response_format={"type": "json_object"}
    )
    assert json.loads(answer.choices[0].message.content) == {
        "pitches": ["Heat: a fitting pick for this quiz.", "Ronin: a fitting pick for this quiz."]
    }


async def test_a_server_that_ignores_response_format_answers_its_text(client, fake_openai):
    """ignores_response_format plays a server without structured output: the plain-text reply comes back."""
    fake_openai.state.ignores_response_format = True
    fake_openai.state.chat_reply = lambda _messages: 'Sure!\n```json\n{"pitches": ["a"]}\n```'
    answer = await client.chat.completions.create(
        model="gpt-4o-mini", messages=messages(), response_format={"type": "json_object"}
    )
    assert answer.choices[0].message.content.startswith("Sure!")


async def test_moderation_answers_one_result_per_input_in_order(client, fake_openai):
    """A list of inputs gets one result each, in order; a string gets one."""
    fake_openai.state.moderation_terms["gore"] = "violence/graphic"
    answer = await client.moderations.create(model="omni-moderation-latest", input=["calm", "gore galore", "cosy"])
    assert [result.flagged for result in answer.results] == [False, True, False]
    assert answer.results[1].categories.model_dump(by_alias=True)["violence/graphic"] is True
    single = await client.moderations.create(model="omni-moderation-latest", input="calm")
    assert len(single.results) == 1
    assert [request.body["input"] for request in fake_openai.requests] == [["calm", "gore galore", "cosy"], "calm"]


async def test_moderation_refuses_an_empty_input(client):
    """An empty list is a 400."""
    with pytest.raises(openai.BadRequestError):
        await client.moderations.create(model="omni-moderation-latest", input=[])

import numpy as np
import pytest

from popchoice_common.embedders import HashEmbedder, create_embedder
from popchoice_common.embedders.openai_embedder import OpenAIEmbedder
from popchoice_common.errors import EmbeddingInputError, EmbeddingServiceError, PermanentError
from popchoice_common.settings import PopChoiceSettings
from popchoice_common.testing.fake_openai import API_KEY


def openai_embedder(server, **overrides):
    options = {
        "api_key": API_KEY,
        "model": "text-embedding-3-large",
        "dimensions": 3072,
        "model_id": "text-embedding-3-large",
        "base_url": server.base_url,
        "max_retries": 0,
    }
    options.update(overrides)
    return OpenAIEmbedder(**options)


async def test_hash_vectors_are_deterministic_and_unit_length():
    """The hash embedder gives the same unit vector for the same text, every time."""
    embedder = HashEmbedder(64)
    first, second = await embedder.embed(["Space opera with rebels", "Space opera with rebels"])
    assert np.allclose(first, second)
    assert np.isclose(np.linalg.norm(first), 1.0)


async def test_hash_vectors_reflect_shared_words():
    """Texts that share words are closer than texts that share none."""
    embedder = HashEmbedder(384)
    query, near, far = await embedder.embed(
        ["heist crime thriller", "a crime thriller heist in Paris", "cartoon bunny"]
    )
    assert float(query @ near) > float(query @ far)


async def test_empty_text_is_refused_before_any_call(fake_openai):
    """An empty or blank string is refused with its position and never reaches the server."""
    embedder = openai_embedder(fake_openai)
    with pytest.raises(EmbeddingInputError, match="#1"):
        await embedder.embed(["ok", "   "])
    assert fake_openai.requests == []
    await embedder.aclose()


async def test_openai_embeddings_over_base64(fake_openai):
    """The official client's default base64 encoding is decoded into the server's vectors."""
    embedder = openai_embedder(fake_openai)
    vectors = await embedder.embed(["a heist thriller", "a cartoon"])
    expected = await HashEmbedder(3072).embed(["a heist thriller", "a cartoon"])
    assert vectors.shape == (2, 3072)
    assert np.allclose(vectors, expected, atol=1e-6)
    assert fake_openai.requests[0].body["encoding_format"] == "base64"
    await embedder.aclose()


async def test_openai_batches_at_2048_inputs(fake_openai):
    """More than 2,048 texts are split into requests of at most 2,048 inputs, order kept."""
    embedder = openai_embedder(fake_openai, dimensions=8, requested_dimensions=8, model_id="m@8")
    texts = [f"film number {i}" for i in range(2050)]
    vectors = await embedder.embed(texts)
    assert [len(r.body["input"]) for r in fake_openai.requests] == [2048, 2]
    assert all(r.body["dimensions"] == 8 for r in fake_openai.requests)
    assert np.allclose(vectors[2049], (await HashEmbedder(8).embed(["film number 2049"]))[0], atol=1e-6)
    await embedder.aclose()


async def test_openai_batches_by_token_budget(fake_openai):
    """A request never carries more than the token budget (estimated from UTF-8 bytes)."""
    embedder = openai_embedder(fake_openai, max_tokens_per_request=100)
    await embedder.embed(["x" * 60, "y" * 30, "z" * 30, "w" * 100])
    assert [len(r.body["input"]) for r in fake_openai.requests] == [2, 1, 1]
    await embedder.aclose()


async def test_openai_server_errors_are_retryable(fake_openai):
    """A 5xx from the embeddings API raises a retryable error."""
    fake_openai.state.forced_failures.append((503, "overloaded"))
    embedder = openai_embedder(fake_openai)
    with pytest.raises(EmbeddingServiceError) as caught:
        await embedder.embed(["text"])
    assert caught.value.retryable
    await embedder.aclose()


async def test_openai_bad_requests_are_permanent(fake_openai):
    """A 4xx other than 429 raises a permanent error without the key in its message."""
    embedder = openai_embedder(fake_openai, api_key="sk-wrong-key-123456789")
    with pytest.raises(PermanentError) as caught:
        await embedder.embed(["text"])
    assert not caught.value.retryable
    assert "sk-wrong" not in str(caught.value)
    await embedder.aclose()


def test_factory_builds_the_configured_embedder(monkeypatch, fake_openai):
    """create_embedder honours OPENAI_BASE_URL and the hash choice."""
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.delenv("EMBEDDING_PROVIDER", raising=False)
    embedder = create_embedder(PopChoiceSettings())
    assert isinstance(embedder, OpenAIEmbedder) and embedder.model_id == "text-embedding-3-large"
    monkeypatch.setenv("EMBEDDING_PROVIDER", "hash")
    assert isinstance(create_embedder(PopChoiceSettings()), HashEmbedder)


@pytest.mark.slow
async def test_local_model_loads_once_per_process():
    """The MiniLM model is loaded once and shared by every LocalEmbedder in the process."""
    from popchoice_common.embedders import local

    first, second = local.LocalEmbedder(), local.LocalEmbedder()
    a = await first.embed(["The Matrix"])
    model = local._model
    b = await second.embed(["The Matrix"])
    assert local._model is model
    assert a.shape == (1, 384) and np.allclose(a, b, atol=1e-5)

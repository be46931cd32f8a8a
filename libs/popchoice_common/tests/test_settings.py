import pytest

from popchoice_common.errors import ConfigurationError
from popchoice_common.settings import PopChoiceSettings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ("EMBEDDING_PROVIDER", "EMBEDDING_MODEL", "EMBEDDING_DIMENSIONS", "OPENAI_API_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_local_is_the_default_without_an_openai_key():
    """With no OPENAI_API_KEY the local MiniLM embedder is chosen."""
    choice = PopChoiceSettings().embedding
    assert (choice.provider, choice.model_id, choice.dimensions) == ("local", "all-MiniLM-L6-v2", 384)


def test_openai_is_the_default_with_a_key(monkeypatch):
    """An OPENAI_API_KEY makes text-embedding-3-large (3,072 dimensions) the default."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abc")
    choice = PopChoiceSettings().embedding
    assert (choice.provider, choice.model_id, choice.dimensions) == ("openai", "text-embedding-3-large", 3072)
    assert choice.requested_dimensions is None


def test_openai_dimensions_are_part_of_the_model_id(monkeypatch):
    """Shortened OpenAI vectors are recorded under their own model id, so they are never mixed with full ones."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abc")
    monkeypatch.setenv("EMBEDDING_DIMENSIONS", "1024")
    choice = PopChoiceSettings().embedding
    assert (choice.model_id, choice.dimensions, choice.requested_dimensions) == (
        "text-embedding-3-large@1024",
        1024,
        1024,
    )


def test_hash_is_chosen_only_explicitly(monkeypatch):
    """The hash embedder is used only when EMBEDDING_PROVIDER=hash asks for it."""
    monkeypatch.setenv("EMBEDDING_PROVIDER", "hash")
    monkeypatch.setenv("EMBEDDING_DIMENSIONS", "64")
    assert PopChoiceSettings().embedding.model_id == "hash-64"


def test_openai_without_key_is_a_configuration_error(monkeypatch):
    """Asking for OpenAI embeddings without a key fails with a clear message."""
    monkeypatch.setenv("EMBEDDING_PROVIDER", "openai")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        _ = PopChoiceSettings().embedding


def test_blank_database_url_means_embedded(monkeypatch):
    """An empty DATABASE_URL is treated as unset (the embedded server)."""
    monkeypatch.setenv("DATABASE_URL", "  ")
    assert PopChoiceSettings().database_dsn() is None


def test_a_misspelt_stream_policy_field_is_refused_naming_it(monkeypatch):
    """STREAM_POLICY_OVERRIDES with an unknown or non-positive field fails at start-up with the field's name."""
    import pydantic

    monkeypatch.setenv("STREAM_POLICY_OVERRIDES", '{"catalog.seed-movie": {"handler_timeout": 5}}')
    with pytest.raises(pydantic.ValidationError, match="catalog.seed-movie.handler_timeout is not a policy field"):
        PopChoiceSettings()
    monkeypatch.setenv("STREAM_POLICY_OVERRIDES", '{"catalog.seed-movie": {"handler_timeout_ms": 0}}')
    with pytest.raises(pydantic.ValidationError, match="handler_timeout_ms must be at least 1"):
        PopChoiceSettings()
    monkeypatch.setenv("STREAM_POLICY_OVERRIDES", '{"catalog.seed-movie": {"handler_timeout_ms": 5000}}')
    assert PopChoiceSettings().stream_policy_overrides == {"catalog.seed-movie": {"handler_timeout_ms": 5000}}


def test_the_settings_know_every_stream_policy_field():
    """The fields STREAM_POLICY_OVERRIDES accepts are exactly StreamPolicy's."""
    import dataclasses

    from popchoice_common.settings import POLICY_FIELDS
    from popchoice_common.streams import StreamPolicy

    assert set(POLICY_FIELDS) == {field.name for field in dataclasses.fields(StreamPolicy)}

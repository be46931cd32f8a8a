import pytest


@pytest.fixture
def movies_file(tmp_path):
    """Writes a movies file from entries and returns its path."""

    def write(*entries: str):
        path = tmp_path / "movies.txt"
        path.write_text("\n\n".join(entries) + "\n", encoding="utf-8")
        return path

    return write

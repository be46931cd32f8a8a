import pytest

IMAGES = "https://images.test/t/p"


@pytest.fixture
def seed_options():
    return {"language": "en-US", "image_base_url": IMAGES}

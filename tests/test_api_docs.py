"""The API docs render without network access: Swagger UI and ReDoc load their JS and CSS from the
gateway itself, under a CSP that allows no inline script."""

import os
from urllib.parse import urlsplit

import httpx
import pytest

from .service_processes import Processes, start_gateway


@pytest.fixture
async def gateway(database_url, redis_url, key_prefix, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STREAM_KEY_PREFIX": key_prefix,
        "EMBEDDING_PROVIDER": "hash",
        "LOG_FORMAT": "json",
    }
    processes = Processes(env, tmp_path)
    client = await start_gateway(processes)
    yield str(client.base_url).rstrip("/")
    await client.aclose()
    processes.stop_all()


async def test_docs_pages_name_only_local_assets_and_forbid_inline_script(gateway):
    async with httpx.AsyncClient(base_url=gateway) as client:
        for path in ("/docs", "/redoc"):
            page = await client.get(path)
            assert page.status_code == 200
            csp = page.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
            assert "<script>" not in page.text and "cdn." not in page.text
            for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/redoc.standalone.js"):
                assert (await client.get(asset)).status_code == 200
        assert (await client.get("/docs-assets/../app.py")).status_code == 404
        assert (await client.get("/docs-assets/nothing.js")).status_code == 404


@pytest.mark.parametrize(
    ("path", "operation"),
    [("/docs", ".opblock-summary-path"), ("/redoc", "[data-section-id^='tag/']")],
)
async def test_docs_render_their_operations_offline(gateway, browser, path, operation):
    origin = urlsplit(gateway).netloc
    elsewhere: list[str] = []
    console_errors: list[str] = []
    context = await browser.new_context()

    async def only_this_origin(route):
        if urlsplit(route.request.url).netloc == origin:
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_this_origin)
    page = await context.new_page()
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    await page.goto(f"{gateway}{path}")
    await page.wait_for_selector(operation, timeout=20_000)
    text = await page.inner_text("body")
    assert "/api/recommendations" in text
    assert elsewhere == []
    # Everything the page needs passes its CSP (ReDoc's sidebar link to Redocly has a logo on their CDN, which
    # the CSP blocks like any other outside image; nothing else is refused).
    refused = [error for error in console_errors if "Content Security Policy" in error]
    assert all(error.startswith("Loading the image 'https://cdn.redoc.ly/") for error in refused), refused
    await context.close()

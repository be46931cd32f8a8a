"""API docs that render offline: Swagger UI at /docs and ReDoc at /redoc, their JS and CSS served from
installed packages (Swagger UI 5 and ReDoc as vendored by the fastapi-offline package; our own init
scripts from this package) instead of FastAPI's CDN links. No inline script: the pages get a CSP of
their own that allows scripts from this origin only."""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

VENDOR = Path(str(files("fastapi_offline") / "static"))
OWN = Path(str(files("popchoice_gateway") / "static" / "docs"))
ASSETS: dict[str, Path] = {
    "swagger-ui-bundle.js": VENDOR / "swagger-ui-bundle.js",
    "swagger-ui.css": VENDOR / "swagger-ui.css",
    "redoc.standalone.js": VENDOR / "redoc.standalone.js",
    "favicon.png": VENDOR / "favicon.png",
    "swagger-init.js": OWN / "swagger-init.js",
    "redoc-init.js": OWN / "redoc-init.js",
}
ASSET_PREFIX = "/docs-assets"
# Swagger UI and ReDoc set inline styles (and ReDoc injects <style> elements and runs a blob: worker);
# scripts come only from this origin.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _page(title: str, body: str, *, styles: str = "", scripts: tuple[str, ...]) -> HTMLResponse:
    script_tags = "".join(f'<script src="{ASSET_PREFIX}/{name}"></script>' for name in scripts)
    style_tag = f'<link rel="stylesheet" href="{ASSET_PREFIX}/{styles}">' if styles else ""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="icon" href="{ASSET_PREFIX}/favicon.png">{style_tag}</head>'
        f"<body>{body}{script_tags}</body></html>"
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_CSP, "X-Frame-Options": "DENY"})


def install_docs(app: FastAPI) -> None:
    """Adds /docs, /redoc and their assets to an app created with docs_url=None and redoc_url=None."""
    openapi_url = escape(app.openapi_url or "/openapi.json")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(
            f"{title} - API docs",
            f'<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>',
            styles="swagger-ui.css",
            scripts=("swagger-ui-bundle.js", "swagger-init.js"),
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _page(
            f"{title} - API reference",
            f'<div id="redoc" data-openapi-url="{openapi_url}"></div>',
            scripts=("redoc.standalone.js", "redoc-init.js"),
        )

    @app.get(f"{ASSET_PREFIX}/{{name}}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        path = ASSETS.get(name)
        if path is None:
            raise HTTPException(status_code=404, detail="No such file.")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})

"""Browsers for the account tests: each keeps its own cookies and CSRF token on one in-process gateway."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"


class Browser:
    """One browser's cookie jar and CSRF token, sending through a shared TestClient."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        # The test client's own cookie type (Starlette's TestClient may be built on httpx2, not httpx).
        self._jar = type(client.cookies)
        self.cookies: Any = self._jar()
        self.csrf: str | None = None

    def request(self, method: str, url: str, *, csrf: bool = True, **kwargs: Any) -> Any:
        self.client.cookies = self.cookies
        headers = dict(kwargs.pop("headers", {}) or {})
        if csrf and self.csrf is not None:
            headers.setdefault("X-CSRF-Token", self.csrf)
        answer = self.client.request(method, url, headers=headers, **kwargs)
        self.cookies = self._jar(self.client.cookies)
        self.client.cookies = self._jar()
        if answer.headers.get("content-type", "").startswith("application/json"):
            body = answer.json()
            if isinstance(body, dict) and body.get("csrfToken"):
                self.csrf = body["csrfToken"]
        return answer

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def open(self) -> Browser:
        """Fetches the CSRF pair, as a page does first."""
        assert self.get("/api/csrf").status_code == 200
        return self

    @property
    def session_id(self) -> str | None:
        return self.cookies.get("__session")

    def register(self, email: str, password: str = PASSWORD, **extra: Any) -> Any:
        return self.post("/api/auth/register", json={"email": email, "password": password, **extra})

    def login(self, email: str, password: str = PASSWORD) -> Any:
        return self.post("/api/auth/login", json={"email": email, "password": password})

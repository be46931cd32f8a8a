"""The accounts' wire format (camelCase JSON, as the product's web client expects)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from popchoice_gateway.accounts.rules import MAX_EMAIL_LENGTH, MAX_PASSWORD_LENGTH, normalize_email
from popchoice_gateway.schemas import Trimmed

Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=MAX_EMAIL_LENGTH * 2),
    AfterValidator(normalize_email),
    Field(description="An e-mail address; stored and compared trimmed and lowercase.", examples=["ada@example.com"]),
]
# A password's rules (length, not a common one) are checked by the service, which knows the e-mail too.
Password = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
DisplayName = Annotated[Trimmed, StringConstraints(min_length=1, max_length=80)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_In):
    email: Email
    password: Password = Field(description="At least 10 characters, and not one of the most common passwords.")
    displayName: DisplayName | None = None


class LoginIn(_In):
    email: Email
    password: Password


class PasswordResetIn(_In):
    email: Email


class PasswordResetConfirmIn(_In):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The token from the reset link."
    )
    password: Password = Field(description="The new password (the same rules as at registration).")


class AccountPatchIn(_In):
    displayName: DisplayName | None = Field(default=None, description="null removes the display name.")
    currentPassword: Password | None = Field(default=None, description="Needed to set a new password.")
    newPassword: Password | None = None


class AccountDeleteIn(_In):
    password: Password = Field(description="The account's password, to confirm.")


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    displayName: str | None
    createdAt: dt.datetime


class SessionOut(BaseModel):
    """Whether the browser is signed in; the CSRF token to echo in X-CSRF-Token on writes."""

    signedIn: bool
    user: UserOut | None = None
    expiresAt: dt.datetime | None = Field(default=None, description="When the session ends at the latest.")
    csrfToken: str | None = Field(
        default=None, description="A fresh CSRF token (also set in the __csrf cookie) after sign-in or registration."
    )


class MessageOut(BaseModel):
    detail: str


class HistoryItemOut(BaseModel):
    id: uuid.UUID
    slug: str
    status: str
    createdAt: dt.datetime
    title: str | None = Field(description="The main pick's title, once there is one.")
    pickCount: int


class HistoryPageOut(BaseModel):
    items: list[HistoryItemOut]
    page: int
    pageSize: int
    total: int


class AccountOut(BaseModel):
    email: str
    displayName: str | None
    createdAt: dt.datetime
    history: HistoryPageOut
    memoryCounts: dict[str, int] = Field(
        description="Films in the movie memory per kind (watched, liked, not_interested, wrong_mood, not_seen)."
    )


class ExportOut(BaseModel):
    """Everything stored about the account (credentials' digests excepted)."""

    model_config = ConfigDict(extra="allow")

    account: dict[str, Any]
    sessions: list[dict[str, Any]]
    apiKeys: list[dict[str, Any]]
    passwordResets: list[dict[str, Any]]
    recommendations: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    movieMemory: list[dict[str, Any]]

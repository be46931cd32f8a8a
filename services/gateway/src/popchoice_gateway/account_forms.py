"""The account pages' forms: what a submitted form's fields must be, and each error worded in the
reader's language next to its field. Pure: the models are the JSON API's own (accounts.schemas), so a
form and the API accept and refuse the same input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from popchoice_gateway.accounts.rules import MIN_PASSWORD_LENGTH, WeakPassword
from popchoice_gateway.i18n import Translator

Model = TypeVar("Model", bound=BaseModel)


@dataclass(slots=True)
class FormErrors:
    """A form's errors: per field (by the form's field name), and one for the whole form."""

    fields: dict[str, str] = field(default_factory=dict)
    form: str | None = None

    def __bool__(self) -> bool:
        return bool(self.fields) or self.form is not None


def _message(error_type: str, field_name: str, value: str, t: Translator) -> str:
    if not value.strip() or error_type == "missing":
        return t("forms.required")
    if error_type in ("string_too_long", "too_long"):
        return t("forms.too_long")
    if field_name == "email":
        return t("forms.email")
    return t("forms.invalid")


def parse(model: type[Model], values: Mapping[str, str], t: Translator) -> tuple[Model | None, FormErrors]:
    """The model of a form's values (names as the API spells them), or the errors next to each field.
    A blank optional value is left out, as the API's absent field."""
    present = {name: value for name, value in values.items() if value.strip() or model.model_fields[name].is_required()}
    try:
        return model.model_validate(present), FormErrors()
    except ValidationError as exc:
        errors = FormErrors()
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            if name in values and name not in errors.fields:
                errors.fields[name] = _message(error["type"], name, values[name], t)
            elif name not in values:
                errors.form = t("forms.invalid")
        return None, errors


def weak_password(exc: WeakPassword, t: Translator) -> str:
    """Which password rule was broken, in the reader's language."""
    return t(f"forms.password_{exc.rule}", n=MIN_PASSWORD_LENGTH)


def retry_in(seconds: int, t: Translator) -> str:
    """ "Too many attempts", with the wait rounded up to whole minutes."""
    return t("forms.too_many_attempts", n=max(1, -(-seconds // 60)))

"""Checks on what a client writes through GraphQL, with the REST API's own rules.

Tags and folder names are validated by the same pydantic types as the REST bodies
(:mod:`mairust.api.schemas`), so both APIs accept and refuse the same values; a refusal is
InvalidInput (BAD_USER_INPUT) and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from mairust.api.schemas import FolderName, Tag
from mairust.errors import InvalidInput
from mairust.services.mailboxes import MAX_TAGS

T = TypeVar("T")

_TAG: TypeAdapter[str] = TypeAdapter(Tag)
_FOLDER: TypeAdapter[str] = TypeAdapter(FolderName)
MAX_ADDRESS_LENGTH = 320
MAX_QUERY_LENGTH = 1000


def _checked(adapter: TypeAdapter[T], value: Any, what: str) -> T:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise InvalidInput(f"{what}: {reason}") from None


def tag(value: str) -> str:
    return _checked(_TAG, value, "tag")


def tags(values: Sequence[str] | None) -> list[str]:
    given = list(values or ())
    if len(given) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags at once")
    return [tag(value) for value in given]


def folder(value: str) -> str:
    return _checked(_FOLDER, value, "folder")


def bounded(value: str, limit: int, what: str) -> str:
    if not 1 <= len(value) <= limit:
        raise InvalidInput(f"{what} must be 1 to {limit} characters")
    return value

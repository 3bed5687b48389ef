"""Marshmallow fields for Trilha's strict JSON forms (decimals as text, UTC instants...)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields

from ledger.domain.encoding import b64encode
from ledger.errors import EncodingError

_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?\Z")
_SIGNED_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?\Z")
_INSTANT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z\Z")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DecimalText(fields.Field[Decimal]):
    """A decimal written as a JSON string ("412.5"), never a JSON number."""

    def __init__(self, *, signed: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pattern = _SIGNED_DECIMAL if signed else _DECIMAL

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> str | None:
        return None if value is None else format(value, "f")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str) or not self.pattern.match(value):
            raise ValidationError(
                f"expected a decimal string such as \"412.5\" (at most 12 digits and 6 "
                f"decimals), got {value!r:.40}")
        return Decimal(value)


class Instant(fields.Field[datetime]):
    """A UTC instant: YYYY-MM-DDTHH:MM:SSZ, or with exactly six fractional digits."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> str | None:
        return None if value is None else format_instant(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or not _INSTANT.match(value):
            raise ValidationError("expected a UTC time such as 2025-01-31T14:05:00Z, "
                                  f"got {value!r:.40}")
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise ValidationError(f"not a real date and time: {value}") from exc


class Day(fields.Field[date]):
    def _serialize(self, value: date | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> str | None:
        return None if value is None else value.isoformat()

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        if not isinstance(value, str) or not _DAY.match(value):
            raise ValidationError(f"expected a date such as 2025-01-31, got {value!r:.40}")
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError(f"not a real date: {value}") from exc


class Base64Bytes(fields.Field[bytes]):
    def __init__(self, *, size: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = size

    def _serialize(self, value: bytes | None, attr: str | None, obj: Any,
                   **kwargs: Any) -> str | None:
        return None if value is None else b64encode(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        from ledger.domain.encoding import b64decode

        if not isinstance(value, str):
            raise ValidationError("expected a base64 string")
        try:
            return b64decode(value, field=attr or "base64", size=self.size)
        except EncodingError as exc:
            raise ValidationError(exc.message) from exc


class Text(fields.String):
    """Free text for people: bounded, no control characters."""

    def __init__(self, *, max_length: int = 200, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            raise ValidationError("must not be blank")
        if len(text) > self.max_length:
            raise ValidationError(f"expected at most {self.max_length} characters, "
                                  f"got {len(text)}")
        if _CONTROL.search(text):
            raise ValidationError("must not contain control characters")
        return text


def format_instant(value: datetime) -> str:
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

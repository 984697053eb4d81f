"""``--at`` values, parsed the same way for every command (kept light: the lint hook imports it)."""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import ConfigError


def parse_at(value: str | None, option: str = "--at") -> datetime | None:
    """``now``, a date (``2026-09-15``, midnight UTC) or an instant (``2026-09-15T10:00Z``, UTC when
    no offset is given) as an aware datetime; None for None."""
    if value is None:
        return None
    if value.strip().lower() == "now":
        return datetime.now(UTC)
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(
            f"{option} {value!r}: expected 'now' or an ISO date/time such as 2026-09-15 or 2026-09-15T10:00Z"
        ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt

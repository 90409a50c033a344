"""The one clock every service reads.

Without time travel it is the wall clock. With `--time-travel` it is the wall
clock plus an offset kept in the store (so every server process agrees), moved
forward from outside through the admin endpoint or `strongroom clock advance`.
The offset only grows: time never runs backwards for stored state.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import Connection

from strongroom.store.db import Store

_OFFSET_SETTING = "clock.offset_seconds"
#: Every move of the offset: "wall:before:after;…" (what `wall_time` maps through).
_HISTORY_SETTING = "clock.offset_history"
_HOT_KEY = ("clock-offset",)


class Clock:
    def __init__(self, time_travel: bool = False) -> None:
        self.time_travel = time_travel
        self._offset = 0.0

    def refresh(self, conn: Connection, store: Store | None = None) -> None:
        """Re-read the shared offset (time-travel mode only; a no-op otherwise).

        With `store`, from its hot cache while the stored state is unchanged."""
        if not self.time_travel:
            return
        cached = store.hot_get(_HOT_KEY) if store is not None else None
        if cached is None:
            value = Store.get_setting(conn, _OFFSET_SETTING)
            cached = float(value) if value else 0.0
            if store is not None:
                store.hot_put(_HOT_KEY, cached)
        self._offset = cached

    @property
    def offset(self) -> float:
        return self._offset

    def timestamp(self) -> float:
        return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(time.time() + self._offset, UTC)

    def advance(self, conn: Connection, seconds: float) -> float:
        """Move the shared clock forward by `seconds`; returns the new offset."""
        if not self.time_travel:
            raise RuntimeError("the clock only moves with --time-travel")
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.refresh(conn)
        before = self._offset
        self._offset += seconds
        Store.put_setting(conn, _OFFSET_SETTING, repr(self._offset))
        history = Store.get_setting(conn, _HISTORY_SETTING) or ""
        entry = f"{time.time()!r}:{before!r}:{self._offset!r}"
        Store.put_setting(conn, _HISTORY_SETTING, f"{history};{entry}" if history else entry)
        return self._offset

    def wall_time(self, conn: Connection, timestamp: float) -> float:
        """The wall-clock time at which this clock read `timestamp` (what
        outside programs that keep wall-clock times, such as a database
        engine's commit records, know it as). A time the clock jumped over
        maps to the moment of the jump."""
        if not self.time_travel:
            return timestamp
        history = Store.get_setting(conn, _HISTORY_SETTING) or ""
        moves = [tuple(float(x) for x in e.split(":")) for e in history.split(";") if e]
        if not moves:
            self.refresh(conn)
            return timestamp - self._offset
        # Before the first recorded move the offset was its "before".
        offset = moves[0][1]
        for wall, before, after in moves:
            if timestamp < wall + before:
                break
            offset = after
            if timestamp < wall + after:
                return wall  # jumped over
        return timestamp - offset


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """'8d', '36h', '90m', '1w2d', '30s' or plain seconds → seconds."""
    text = text.strip().lower()
    if not text:
        raise ValueError("empty duration")
    try:
        return float(text)
    except ValueError:
        pass
    total, number = 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in _UNITS and number:
            total += float(number) * _UNITS[ch]
            number = ""
        else:
            raise ValueError(f"cannot read duration {text!r}; use e.g. 8d, 36h, 90m")
    if number:
        raise ValueError(f"duration {text!r} ends without a unit")
    return total

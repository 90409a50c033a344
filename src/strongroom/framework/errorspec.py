"""`ErrorSpec`: an AWS error named as data (code and message), for the kit
modules whose rules are tables per service (paging, tagging)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from strongroom.framework.call import Call


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An AWS error: its code (a model shape's error code, or an unmodelled
    error the namespace lists) and its message, a `str.format` template where
    the error names a value (``{key}``, ``{size}``, ``{maximum}``…)."""

    code: str
    message: str

    def error(self, call: Call, **values: Any) -> Exception:
        """The error for `call`'s service; a name the template uses but the
        caller did not give is left empty (a message short of a word beats a
        500)."""
        return call.service.errors.by_code(self.code)(self.message.format_map(_Values(values)))

    def raise_for(self, call: Call, **values: Any) -> NoReturn:
        raise self.error(call, **values)


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""

"""JSON bodies (the `json` and `rest-json` protocols), compiled per shape.

`JsonCompiler.reader(shape)` returns ``read(decoded_json) -> python`` that
checks JSON types and converts blobs and timestamps, raising `Malformed` on
a value of the wrong type. `JsonCompiler.writer(shape)` returns
``write(python) -> json-able`` or None when the value can be dumped as is.
Both are built once per shape and memoised, recursive shapes included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.model import Shape

from strongroom.protocol.values import (
    Malformed,
    b64decode,
    b64encode,
    float_out,
    parse_timestamp,
    timestamp_from_epoch,
    timestamp_writer,
)

Reader = Callable[[Any], Any]
Writer = Callable[[Any], Any]

_TYPE_WORDS = {
    "string": "a String",
    "integer": "an Integer",
    "long": "a Long",
    "boolean": "a Boolean",
    "float": "a Float",
    "double": "a Double",
    "blob": "a ByteBuffer",
    "timestamp": "a Date",
    "structure": "a Structure",
    "list": "a List",
    "map": "a Map",
}


def wrong_type(value: Any, kind: str) -> Malformed:
    if isinstance(value, dict):
        return Malformed("Start of structure or map found where not expected.")
    if isinstance(value, list):
        return Malformed("Start of list found where not expected.")
    if isinstance(value, bool):
        token = "TRUE_VALUE" if value else "FALSE_VALUE"
    elif isinstance(value, int | float):
        token = "NUMBER_VALUE"
    elif isinstance(value, str):
        token = "STRING_VALUE"
    else:
        token = "VALUE"
    return Malformed(f"{token} can not be converted to {_TYPE_WORDS.get(kind, 'a ' + kind)}")


# --------------------------------------------------------------------------- scalar readers


def _read_string(v: Any) -> str:
    if type(v) is str:
        return v
    raise wrong_type(v, "string")


def _read_bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    raise wrong_type(v, "boolean")


def _int_reader(kind: str) -> Reader:
    def read(v: Any) -> int:
        if type(v) is int:
            return v
        if type(v) is float and v.is_integer():
            return int(v)
        raise wrong_type(v, kind)

    return read


_FLOAT_WORDS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _float_reader(kind: str) -> Reader:
    def read(v: Any) -> float:
        t = type(v)
        if t is float:
            return v
        if t is int:
            return float(v)
        if t is str and v in _FLOAT_WORDS:
            return _FLOAT_WORDS[v]
        raise wrong_type(v, kind)

    return read


def _read_blob(v: Any) -> bytes:
    if type(v) is str:
        return b64decode(v)
    raise wrong_type(v, "blob")


def _read_timestamp(v: Any) -> Any:
    t = type(v)
    if t is int or t is float:
        return timestamp_from_epoch(v)
    if t is str:
        return parse_timestamp(v)
    raise wrong_type(v, "timestamp")


def _read_any(v: Any) -> Any:
    return v


#: Readers for scalars, with the Python type that passes unchanged.
_SCALARS: dict[str, tuple[type | None, Reader]] = {
    "string": (str, _read_string),
    "character": (str, _read_string),
    "boolean": (bool, _read_bool),
    "integer": (int, _int_reader("integer")),
    "long": (int, _int_reader("long")),
    "short": (int, _int_reader("integer")),
    "byte": (int, _int_reader("integer")),
    "biginteger": (int, _int_reader("long")),
    "float": (float, _float_reader("float")),
    "double": (float, _float_reader("double")),
    "bigdecimal": (float, _float_reader("double")),
    "blob": (None, _read_blob),
    "timestamp": (None, _read_timestamp),
}


def _plain_members(table: dict[str, tuple[str, type | None, Reader]]) -> list[type] | None:
    """The Python types of a structure's members when it is plain: a few
    scalars whose wire names are their member names (a log event, a tag)."""
    if not table or len(table) > 16:
        return None
    if any(wire != name or fast is None for wire, (name, fast, _) in table.items()):
        return None
    return [fast for _, fast, _ in table.values()]  # type: ignore[misc]


def _plain_test(
    table: dict[str, tuple[str, type | None, Reader]], var: str, namespace: dict[str, Any]
) -> list[str]:
    """Lines that leave ``ok`` true when the object `var` holds is, as decoded,
    what the member-by-member reader would build: every key a member, every
    value of its member's Python type (None values excluded)."""
    lines = [f"ok = type({var}) is dict", "if ok:", "    n = 0"]
    for i, (wire, (_, fast, _)) in enumerate(table.items()):
        namespace[f"t{i}"] = fast
        lines += [
            f"    v = {var}.get({wire!r})",
            "    if v is not None:",
            f"        if type(v) is not t{i}:",
            "            ok = False",
            "        n += 1",
        ]
    lines.append(f"    ok = ok and n == len({var})")
    return lines


def _generated(name: str, lines: list[str], namespace: dict[str, Any]) -> Reader:
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<json reader {name}>", "exec"), namespace)
    return namespace[name]


def _as_is_when_plain(
    table: dict[str, tuple[str, type | None, Reader]], slow: Reader
) -> Reader | None:
    """For a plain structure: a reader that returns the decoded object itself
    when that is what `slow` would build member by member, else `slow`'s
    answer. Straight-line code generated once: `slow`'s loop costs about a
    microsecond an object, and a batch can hold 10,000 of them."""
    if _plain_members(table) is None:
        return None
    namespace: dict[str, Any] = {"slow": slow}
    test = _plain_test(table, "value", namespace)
    lines = ["def read_plain(value):", *("    " + line for line in test)]
    lines.append("    return value if ok else slow(value)")
    return _generated("read_plain", lines, namespace)


def _list_as_is_when_plain(
    table: dict[str, tuple[str, type | None, Reader]], slow: Reader
) -> Reader:
    """For a list of plain structures: the decoded list itself when every
    element passes `_plain_test`, without a call per element; else `slow`."""
    namespace: dict[str, Any] = {"slow": slow}
    test = _plain_test(table, "e", namespace)
    lines = [
        "def read_plain_list(value):",
        "    if type(value) is not list:",
        "        return slow(value)",
        "    for e in value:",
        *("        " + line for line in test),
        "        if not ok:",
        "            return slow(value)",
        "    return value",
    ]
    return _generated("read_plain_list", lines, namespace)


def _shape_key(shape: Shape) -> tuple[str, str]:
    return (shape.name, repr(sorted(shape.serialization.items())))


class JsonCompiler:
    def __init__(self, default_timestamp: str = "unixtimestamp") -> None:
        self._default_ts = default_timestamp
        self._readers: dict[tuple[str, str], Reader] = {}
        self._writers: dict[tuple[str, str], Writer | None] = {}
        self._pending_r: dict[tuple[str, str], list[Reader | None]] = {}
        #: The member tables of the plain structures' readers (for their lists).
        self._plain_tables: dict[Reader, dict[str, tuple[str, type | None, Reader]]] = {}
        self._pending_w: dict[tuple[str, str], list[Writer | None]] = {}

    # ----------------------------------------------------------------- readers

    def scalar_type(self, shape: Shape) -> type | None:
        """The Python type a reader passes unchanged (fast path), if any."""
        entry = _SCALARS.get(shape.type_name)
        return entry[0] if entry else None

    def reader(self, shape: Shape) -> Reader:
        key = _shape_key(shape)
        found = self._readers.get(key)
        if found is not None:
            return found
        cell = self._pending_r.get(key)
        if cell is not None:

            def recurse(v: Any, cell: list[Reader | None] = cell) -> Any:
                return cell[0](v)  # type: ignore[misc]

            return recurse
        cell = [None]
        self._pending_r[key] = cell
        try:
            built = self._build_reader(shape)
        finally:
            del self._pending_r[key]
        cell[0] = built
        self._readers[key] = built
        return built

    def _build_reader(self, shape: Shape) -> Reader:
        kind = shape.type_name
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            return scalar[1]
        if kind == "structure":
            if shape.metadata.get("document"):
                return _read_any
            return self.struct_reader(shape, shape.members.items())
        if kind == "list":
            return self._list_reader(shape)
        if kind == "map":
            return self._map_reader(shape)
        return _read_any

    def struct_reader(self, shape: Shape, members: Any) -> Reader:
        """A reader for `shape` that knows only `members` ((name, shape) pairs)."""
        table: dict[str, tuple[str, type | None, Reader]] = {}
        for name, member in members:
            wire = member.serialization.get("name", name)
            table[wire] = (name, self.scalar_type(member), self.reader(member))

        def read_struct(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise wrong_type(value, "structure")
            out: dict[str, Any] = {}
            get = table.get
            for k, v in value.items():
                entry = get(k)
                if entry is None or v is None:
                    continue
                name, fast, read = entry
                out[name] = v if type(v) is fast else read(v)
            return out

        reader = _as_is_when_plain(table, read_struct) or read_struct
        if _plain_members(table) is not None:
            self._plain_tables[reader] = table
        return reader

    def _list_reader(self, shape: Shape) -> Reader:
        member = shape.member
        fast = self.scalar_type(member)
        read = self.reader(member)

        def read_list(value: Any) -> list[Any]:
            if type(value) is not list:
                raise wrong_type(value, "list")
            return [v if type(v) is fast else read(v) for v in value if v is not None]

        plain = self._plain_tables.get(read)
        return read_list if plain is None else _list_as_is_when_plain(plain, read_list)

    def _map_reader(self, shape: Shape) -> Reader:
        value_shape = shape.value
        fast = self.scalar_type(value_shape)
        read = self.reader(value_shape)

        def read_map(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise wrong_type(value, "map")
            return {
                k: (v if type(v) is fast else read(v)) for k, v in value.items() if v is not None
            }

        return read_map

    # ----------------------------------------------------------------- writers

    def writer(self, shape: Shape) -> Writer | None:
        key = _shape_key(shape)
        if key in self._writers:
            return self._writers[key]
        cell = self._pending_w.get(key)
        if cell is not None:

            def recurse(v: Any, cell: list[Writer | None] = cell) -> Any:
                fn = cell[0]
                return v if fn is None else fn(v)

            return recurse
        cell = [None]
        self._pending_w[key] = cell
        try:
            built = self._build_writer(shape)
        finally:
            del self._pending_w[key]
        cell[0] = built
        self._writers[key] = built
        return built

    def _build_writer(self, shape: Shape) -> Writer | None:
        kind = shape.type_name
        if kind == "structure":
            if shape.metadata.get("document"):
                return None
            return self.struct_writer(shape.members.items())
        if kind == "list":
            inner = self.writer(shape.member)
            if inner is None:
                return _plain_list

            def write_list(value: Any) -> list[Any]:
                return [inner(v) for v in value if v is not None]

            return write_list
        if kind == "map":
            inner = self.writer(shape.value)

            def write_map(value: Any) -> dict[str, Any]:
                if inner is None:
                    return {str(k): v for k, v in value.items() if v is not None}
                return {str(k): inner(v) for k, v in value.items() if v is not None}

            return write_map
        if kind == "blob":
            return b64encode
        if kind == "timestamp":
            return timestamp_writer(shape.serialization.get("timestampFormat"), self._default_ts)
        if kind in ("float", "double", "bigdecimal"):
            return float_out
        if kind in ("integer", "long", "short", "byte", "biginteger"):
            return _int_out
        if kind == "boolean":
            return bool
        return None

    def struct_writer(self, members: Any) -> Writer:
        table: dict[str, tuple[str, Writer | None]] = {}
        for name, member in members:
            table[name] = (member.serialization.get("name", name), self.writer(member))

        def write_struct(value: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}
            get = table.get
            for k, v in value.items():
                entry = get(k)
                if entry is None or v is None:
                    continue
                wire, write = entry
                out[wire] = v if write is None else write(v)
            return out

        return write_struct


def _plain_list(value: Any) -> list[Any]:
    return [v for v in value if v is not None]


def _int_out(value: Any) -> int:
    return value if type(value) is int else int(value)

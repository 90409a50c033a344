"""XML bodies (`query` responses, `rest-xml` requests and responses), compiled per shape.

Writers append text fragments to a list (``write(value, tag, parts)``) and are
joined once at the end. Readers take ElementTree elements of a body that was
parsed with DTDs refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

from botocore.model import Shape

from strongroom.protocol.values import (
    Malformed,
    b64decode,
    b64encode,
    float_text,
    parse_bool_text,
    parse_float_text,
    parse_int_text,
    parse_timestamp,
    text_of,
    timestamp_writer,
    xml_escape,
)

XmlWriter = Callable[[Any, str, list[str]], None]
XmlReader = Callable[[ElementTree.Element], Any]


def ns_attribute(shape: Shape) -> str:
    ns = shape.serialization.get("xmlNamespace")
    if not ns:
        return ""
    if isinstance(ns, dict):
        prefix = ns.get("prefix")
        name = f"xmlns:{prefix}" if prefix else "xmlns"
        return f' {name}="{xml_escape(ns.get("uri", ""))}"'
    return f' xmlns="{xml_escape(str(ns))}"'


MALFORMED_XML = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)


def parse_xml(body: bytes) -> ElementTree.Element:
    """The root element of an untrusted XML body (DTDs and entities refused)."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise Malformed(MALFORMED_XML)
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise Malformed(MALFORMED_XML) from exc


def local_name(tag: str) -> str:
    if tag[:1] == "{":
        return tag.rpartition("}")[2]
    return tag


def flat_list_name(name: str, member: Shape) -> str:
    """The element name of a member in its parent, as botocore's parsers read it."""
    if member.type_name == "list" and member.serialization.get("flattened"):
        inner = member.member.serialization.get("name")
        if inner:
            return inner
    return member.serialization.get("name", name)


def _key(shape: Shape) -> tuple[str, str]:
    return (shape.name, repr(sorted(shape.serialization.items())))


class XmlCompiler:
    def __init__(self, default_timestamp: str = "iso8601") -> None:
        self._default_ts = default_timestamp
        self._writers: dict[tuple[str, str], XmlWriter] = {}
        self._readers: dict[tuple[str, str], XmlReader] = {}
        self._pending_w: dict[tuple[str, str], list[XmlWriter | None]] = {}
        self._pending_r: dict[tuple[str, str], list[XmlReader | None]] = {}

    # ================================================================= writers

    def writer(self, shape: Shape) -> XmlWriter:
        key = _key(shape)
        found = self._writers.get(key)
        if found is not None:
            return found
        cell = self._pending_w.get(key)
        if cell is not None:

            def recurse(v: Any, tag: str, parts: list[str], cell: list[Any] = cell) -> None:
                cell[0](v, tag, parts)

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

    def _build_writer(self, shape: Shape) -> XmlWriter:
        kind = shape.type_name
        ns = ns_attribute(shape)
        if kind == "structure":
            return self.struct_writer(shape.members.items(), ns)
        if kind == "list":
            return self._list_writer(shape, ns)
        if kind == "map":
            return self._map_writer(shape, ns)
        return _scalar_writer(self._text_function(shape), ns)

    def _text_function(self, shape: Shape) -> Callable[[Any], str]:
        kind = shape.type_name
        if kind == "boolean":
            return _bool_text
        if kind == "blob":
            return b64encode
        if kind == "timestamp":
            fmt = timestamp_writer(shape.serialization.get("timestampFormat"), self._default_ts)
            return lambda v: str(fmt(v))
        if kind in ("float", "double", "bigdecimal"):
            return float_text
        if kind in ("integer", "long", "short", "byte", "biginteger"):
            return _int_text
        return text_of

    def struct_writer(self, members: Any, ns: str = "") -> XmlWriter:
        table: dict[str, tuple[str, XmlWriter]] = {}
        attributes: list[tuple[str, str, Callable[[Any], str]]] = []
        for name, member in members:
            if member.serialization.get("xmlAttribute"):
                attr = member.serialization.get("name", name)
                attributes.append((name, attr, self._text_function(member)))
                continue
            table[name] = (flat_list_name(name, member), self.writer(member))

        def write_struct(value: Any, tag: str, parts: list[str]) -> None:
            head = ns
            for name, attr, text in attributes:
                v = value.get(name)
                if v is not None:
                    head += f' {attr}="{xml_escape(text(v))}"'
            parts.append(f"<{tag}{head}>")
            get = table.get
            for k, v in value.items():
                entry = get(k)
                if entry is not None and v is not None:
                    entry[1](v, entry[0], parts)
            parts.append(f"</{tag}>")

        return write_struct

    def _list_writer(self, shape: Shape, ns: str) -> XmlWriter:
        member = shape.member
        inner = self.writer(member)
        if shape.serialization.get("flattened"):

            def write_flat(value: Any, tag: str, parts: list[str]) -> None:
                for item in value:
                    if item is not None:
                        inner(item, tag, parts)

            return write_flat
        item_tag = member.serialization.get("name", "member")

        def write_list(value: Any, tag: str, parts: list[str]) -> None:
            parts.append(f"<{tag}{ns}>")
            for item in value:
                if item is not None:
                    inner(item, item_tag, parts)
            parts.append(f"</{tag}>")

        return write_list

    def _map_writer(self, shape: Shape, ns: str) -> XmlWriter:
        key_tag = shape.key.serialization.get("name", "key")
        value_tag = shape.value.serialization.get("name", "value")
        write_key = self.writer(shape.key)
        write_value = self.writer(shape.value)
        flattened = bool(shape.serialization.get("flattened"))

        def write_map(value: Any, tag: str, parts: list[str]) -> None:
            if not flattened:
                parts.append(f"<{tag}{ns}>")
            entry_tag = tag if flattened else "entry"
            for k, v in value.items():
                if v is None:
                    continue
                parts.append(f"<{entry_tag}>")
                write_key(k, key_tag, parts)
                write_value(v, value_tag, parts)
                parts.append(f"</{entry_tag}>")
            if not flattened:
                parts.append(f"</{tag}>")

        return write_map

    # ================================================================= readers

    def reader(self, shape: Shape) -> XmlReader:
        key = _key(shape)
        found = self._readers.get(key)
        if found is not None:
            return found
        cell = self._pending_r.get(key)
        if cell is not None:

            def recurse(el: ElementTree.Element, cell: list[Any] = cell) -> Any:
                return cell[0](el)

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

    def _build_reader(self, shape: Shape) -> XmlReader:
        kind = shape.type_name
        if kind == "structure":
            return self.struct_reader(shape.members.items())
        if kind == "list":
            inner = self.reader(shape.member)

            def read_list(el: ElementTree.Element) -> list[Any]:
                return [inner(child) for child in el]

            return read_list
        if kind == "map":
            return self._map_reader(shape)
        convert = self.text_reader(shape)

        def read_scalar(el: ElementTree.Element) -> Any:
            if len(el):
                raise Malformed("Unexpected element content")
            return convert(el.text or "")

        return read_scalar

    def text_reader(self, shape: Shape) -> Callable[[str], Any]:
        kind = shape.type_name
        if kind == "boolean":
            return parse_bool_text
        if kind == "blob":
            return b64decode
        if kind == "timestamp":
            return parse_timestamp
        if kind in ("float", "double", "bigdecimal"):
            return parse_float_text
        if kind in ("integer", "long", "short", "byte", "biginteger"):
            return parse_int_text
        return _same

    def struct_reader(self, members: Any) -> XmlReader:
        # element name -> (member name, reader, flattened-list item reader or None)
        table: dict[str, tuple[str, XmlReader | None, XmlReader | None, Any]] = {}
        attributes: list[tuple[str, str, Callable[[str], Any]]] = []
        for name, member in members:
            ser = member.serialization
            if ser.get("location"):
                continue
            if ser.get("xmlAttribute"):
                attr = ser.get("name", name)
                attributes.append((name, attr.rpartition(":")[2], self.text_reader(member)))
                continue
            if member.type_name == "list" and ser.get("flattened"):
                item = self.reader(member.member)
                entry = (name, None, item, None)
                table[ser.get("name", name)] = entry
                inner_name = member.member.serialization.get("name")
                if inner_name:
                    table.setdefault(inner_name, entry)
            elif member.type_name == "map" and ser.get("flattened"):
                table[ser.get("name", name)] = (name, None, None, self._entry_reader(member))
            else:
                table[ser.get("name", name)] = (name, self.reader(member), None, None)

        def read_struct(el: ElementTree.Element) -> dict[str, Any]:
            out: dict[str, Any] = {}
            if attributes:
                for name, attr, convert in attributes:
                    for k, v in el.attrib.items():
                        if local_name(k).rpartition(":")[2] == attr:
                            out[name] = convert(v)
                            break
            if el.text and el.text.strip() and not len(el):
                raise Malformed("Unexpected text content")
            for child in el:
                entry = table.get(local_name(child.tag))
                if entry is None:
                    continue
                name, read, item, map_entry = entry
                if read is not None:
                    out[name] = read(child)
                elif item is not None:
                    out.setdefault(name, []).append(item(child))
                else:
                    k, v = map_entry(child)
                    out.setdefault(name, {})[k] = v
            return out

        return read_struct

    def _entry_reader(self, shape: Shape) -> Callable[[ElementTree.Element], tuple[Any, Any]]:
        key_tag = shape.key.serialization.get("name", "key")
        value_tag = shape.value.serialization.get("name", "value")
        read_key = self.reader(shape.key)
        read_value = self.reader(shape.value)

        def read_entry(el: ElementTree.Element) -> tuple[Any, Any]:
            k = v = None
            for child in el:
                tag = local_name(child.tag)
                if tag == key_tag:
                    k = read_key(child)
                elif tag == value_tag:
                    v = read_value(child)
            if k is None:
                raise Malformed("Map entry without a key")
            return k, v

        return read_entry

    def _map_reader(self, shape: Shape) -> XmlReader:
        read_entry = self._entry_reader(shape)

        def read_map(el: ElementTree.Element) -> dict[Any, Any]:
            out = {}
            for child in el:
                k, v = read_entry(child)
                if v is not None:
                    out[k] = v
            return out

        return read_map


def _scalar_writer(text: Callable[[Any], str], ns: str) -> XmlWriter:
    def write_scalar(value: Any, tag: str, parts: list[str]) -> None:
        parts.append(f"<{tag}{ns}>{xml_escape(text(value))}</{tag}>")

    return write_scalar


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _int_text(value: Any) -> str:
    return str(int(value))


def _same(text: str) -> str:
    return text

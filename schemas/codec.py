"""Avro single-object encoding (Avro spec, "Single object encoding").

Every message on every ordercast topic is ``C3 01`` + the 8-byte little-endian
CRC-64-AVRO fingerprint of the writer schema's canonical form + the Avro binary
body.  A reader looks the fingerprint up, so it always knows the writer schema,
and resolves it against its own (reader) version of the same named type.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form
from fastavro.validation import validate

from .exceptions import (
    EncodeError,
    MalformedBody,
    NotSingleObject,
    UnexpectedSchema,
    UnknownSchema,
)

MARKER = b"\xc3\x01"
HEADER_LEN = 10
SCHEMA_DIR = Path(__file__).parent
SHARED = ("envelope", "line_item")  # named types other schemas refer to by name


class Record(dict):  # type: ignore[type-arg]
    """A decoded record: a plain dict that also knows its schema's short name."""

    __slots__ = ("schema",)

    def __init__(self, schema: str, data: Mapping[str, Any]):
        super().__init__(data)
        self.schema = schema


class Registry:
    """Schemas known to this process: the current version of each type (reader
    and writer) plus older or newer writer versions we can still read."""

    def __init__(self) -> None:
        self._current: dict[str, dict[str, Any]] = {}  # short name -> parsed
        self._by_fullname: dict[str, str] = {}  # "ordercast.v1.Refund" -> "refund"
        self._writers: dict[bytes, tuple[str, dict[str, Any]]] = {}
        self._headers: dict[str, bytes] = {}

    def add(self, name: str, schema: Mapping[str, Any], *, current: bool = True) -> bytes:
        """Register a schema; returns its fingerprint. ``current=False`` adds a
        writer version only (e.g. an old version still on the topic)."""
        # Timestamps travel as epoch millis; dropping the logical type keeps them
        # ints in Python (no datetime round trips) and leaves the canonical form,
        # hence the fingerprint, unchanged.
        # (fastavro's parse hint stays on: without it every read and write parses again)
        parsed = fastavro.parse_schema(_plain_timestamps(dict(schema)))
        fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
        self._writers[fp] = (name, parsed)
        if current:
            self._current[name] = parsed
            self._by_fullname[parsed["name"]] = name
            self._headers[name] = MARKER + fp
        return fp

    @property
    def names(self) -> list[str]:
        return sorted(self._current)

    def schema(self, name: str) -> dict[str, Any]:
        return self._current[name]

    def fingerprint(self, name: str) -> bytes:
        return self._headers[name][2:]

    def validate(self, name: str, record: Mapping[str, Any]) -> None:
        """Raise EncodeError naming the first field that does not fit."""
        try:
            validate(record, self._current[name], raise_errors=True)
        except KeyError as exc:
            raise EncodeError(f"unknown schema {name!r}") from exc
        except fastavro.validation.ValidationError as exc:
            raise EncodeError(_explain(exc)) from None

    def encode(self, name: str, record: Mapping[str, Any], *, check: bool = True) -> bytes:
        if check:
            self.validate(name, record)
        buf = io.BytesIO()
        buf.write(self._headers[name])
        try:
            fastavro.schemaless_writer(buf, self._current[name], record)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise EncodeError(f"{name}: {exc}") from None
        return buf.getvalue()

    def decode(self, data: bytes | None, expect: str | Iterable[str] | None = None) -> Record:
        if not data or len(data) < HEADER_LEN or data[:2] != MARKER:
            raise NotSingleObject("not Avro single-object encoded (no C3 01 marker)")
        fp = bytes(data[2:HEADER_LEN])
        try:
            name, writer = self._writers[fp]
        except KeyError:
            raise UnknownSchema(f"unknown writer schema fingerprint {fp.hex()}") from None
        if expect is not None:
            allowed = (expect,) if isinstance(expect, str) else tuple(expect)
            if name not in allowed:
                raise UnexpectedSchema(f"got a {name} record, expected {' or '.join(allowed)}")
        reader = self._current.get(name, writer)
        if reader is writer:
            reader = None  # same version: skip schema resolution (3x faster)
        buf = io.BytesIO(data[HEADER_LEN:])
        try:
            body = fastavro.schemaless_reader(buf, writer, reader)
        except Exception as exc:  # fastavro raises many types on bad bytes
            raise MalformedBody(f"{name}: body does not parse: {type(exc).__name__}") from None
        extra = len(data) - HEADER_LEN - buf.tell()
        if extra:
            raise MalformedBody(f"{name}: {extra} bytes after the record")
        return Record(name, body)  # type: ignore[arg-type]


def _explain(exc: fastavro.validation.ValidationError) -> str:
    # fastavro's own message dumps the whole schema; name the field instead
    errors = getattr(exc, "errors", None) or []
    if not errors:
        return str(exc)[:300]
    err = errors[0]
    field = (err.field or "record").split(".")[-1] if err.field else "record"
    datum = repr(err.datum)
    if len(datum) > 80:
        datum = datum[:77] + "..."
    expected = err.schema if isinstance(err.schema, str) else (
        err.schema.get("type") if isinstance(err.schema, dict) else err.schema)
    return f"field {field!r}: {datum} is not a valid {expected}"


def _plain_timestamps(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _plain_timestamps(v) for k, v in node.items()
                if not (k == "logicalType" and v == "timestamp-millis")}
    if isinstance(node, list):
        return [_plain_timestamps(x) for x in node]
    return node


def load_schema_file(path: Path, shared: Mapping[str, Any]) -> dict[str, Any]:
    """Read an .avsc, inlining shared named types so each schema stands alone
    (its canonical form, and so its fingerprint, then covers them too)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return _inline(raw, shared)


def _inline(node: Any, shared: Mapping[str, Any]) -> Any:
    if isinstance(node, str) and node in shared:
        return shared[node]
    if isinstance(node, list):
        return [_inline(x, shared) for x in node]
    if isinstance(node, dict):
        return {k: _inline(v, shared) if k in ("type", "items", "values", "fields") else v
                for k, v in node.items()}
    return node


def build_registry(schema_dir: Path = SCHEMA_DIR) -> Registry:
    shared = {}
    for stem in SHARED:
        raw = json.loads((schema_dir / f"{stem}.avsc").read_text(encoding="utf-8"))
        shared[raw["name"]] = raw
        shared[f"{raw['namespace']}.{raw['name']}"] = raw
    reg = Registry()
    for path in sorted(schema_dir.glob("*.avsc")):
        if path.stem in SHARED:
            continue
        reg.add(path.stem, load_schema_file(path, shared))
    history = schema_dir / "history"
    if history.is_dir():
        for path in sorted(history.glob("*.avsc")):
            reg.add(path.stem.split(".")[0], load_schema_file(path, shared), current=False)
    return reg


REGISTRY = build_registry()
encode = REGISTRY.encode
decode = REGISTRY.decode

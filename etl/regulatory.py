"""The regulatory feed: versioned documents with effective dates → raw → bronze → silver → gold.

A regulatory document is a YAML or JSON file with a header and a list of entries::

    document_id: grid-emission-factors   # the document series
    version: 2                           # increases with every issue
    kind: grid_emission_factors          # see KINDS
    title: Grid electricity emission factors, 2024 data
    source: UBA (2025); AIB European Residual Mixes 2024; EPA eGRID2023
    valid_from: 2025-01-01               # first day in force
    valid_to: null                       # optional end (exclusive); otherwise until the next version
    entries:
      - {region: DE, basis: location, kg_co2e_per_kwh: 0.363}

Versions of one document follow each other: version *n+1* starts after version *n* started and
closes it (its ``valid_to`` becomes the new ``valid_from``). A document is **rejected** — with a
message naming the document and the field — when a required field is missing or has the wrong
type or range, when it contradicts itself (an entry key twice with different values,
``valid_to`` before ``valid_from``, a scheme without its price), when its dates overlap another
version's explicit validity, or when it re-issues an existing version with different content.
A **file** is rejected when it is not a document at all (see :func:`parse_document`: not UTF-8,
empty, a syntax error, a duplicate key, YAML anchors/aliases, over the size or value limits, not
a mapping), when its name has an unexpected suffix (at landing) or when it repeats the bytes of a
file already landed. Nothing a file contains raises: it is rejected alone, the other files of the
run load and later runs are not blocked. Rejected files are kept in raw, marked ``rejected`` with
the reason in the manifest (if they fail on their own) and listed in
``silver.regulatory__rejections`` — every file that arrived and is not loaded is there, with the
field at fault (``(file)`` for the file as a whole) and the reason; the versions in force before
them stay in force.

Silver is recomputed from every loaded document on each run (documents are few), in version
order, so the result does not depend on the order files arrived in and reruns are idempotent.
:func:`rules_in_force` answers "what rules were in force at plant P on date D", optionally with a
scenario's overrides.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import json.decoder
import json.scanner
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml

from etl.landing import land_documents, manifest
from models.sites import get_site
from nexus.errors import ContractViolation
from warehouse.lake import CommitMeta, Lake
from warehouse.tables import (
    BRONZE_REGULATORY_DOCUMENTS,
    DIM_CARBON_PRICING,
    DIM_EMISSION_FACTORS,
    DIM_REGULATORY_LIMITS,
    RAW_FILES,
    SILVER_REGULATORY_DOCUMENTS,
    SILVER_REGULATORY_REJECTIONS,
    SILVER_REGULATORY_RULES,
)

log = logging.getLogger(__name__)
SOURCE = "regulatory"
DEFAULT_GWP_SET = "AR6"


# ------------------------------------------------------------------------------ document kinds
@dataclass(frozen=True)
class Field:
    """One field of a document header or entry."""

    name: str
    type: str  # str | float | bool | int
    required: bool = True
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    unit: str | None = None  # unit of a numeric value; "@unit" takes it from the entry's `unit` field


@dataclass(frozen=True)
class KindSpec:
    """What a document kind contains and how its entries map to silver rule columns."""

    header: tuple[Field, ...]
    keys: tuple[Field, ...]
    values: tuple[Field, ...]
    columns: Mapping[str, str]  # silver column -> entry/header field (plant_id, region, subject, qualifier)


_GASES = ("co2", "ch4", "ch4_fossil", "ch4_biogenic", "n2o", "cf4", "c2f6", "sf6", "hfc_134a")
KINDS: dict[str, KindSpec] = {
    "gwp_set": KindSpec(
        header=(Field("gwp_set", "str", choices=("AR4", "AR5", "AR6")),),
        keys=(Field("gas", "str", choices=_GASES),),
        values=(Field("gwp100", "float", min=0.0, unit="1"),),
        columns={"subject": "gas", "qualifier": "gwp_set"}),
    "grid_emission_factors": KindSpec(
        header=(),
        keys=(Field("region", "str"), Field("basis", "str", choices=("location", "market"))),
        values=(Field("kg_co2e_per_kwh", "float", min=0.0, max=2.0, unit="kg/kWh"),),
        columns={"region": "region", "qualifier": "basis"}),
    "fuel_emission_factors": KindSpec(
        header=(),
        keys=(Field("fuel", "str"),),
        values=(Field("co2_kg_per_gj", "float", min=0.0, max=200.0, unit="kg/GJ"),
                Field("ch4_kg_per_gj", "float", min=0.0, max=1.0, unit="kg/GJ"),
                Field("n2o_kg_per_gj", "float", min=0.0, max=1.0, unit="kg/GJ"),
                Field("biogenic", "bool")),
        columns={"subject": "fuel"}),
    "material_emission_factors": KindSpec(
        header=(),
        keys=(Field("item", "str"),),
        values=(Field("kg_co2e_per_kg", "float", min=0.0, max=1000.0, unit="kg/kg"),
                Field("scope3_category", "int", required=False, min=1, max=15)),
        columns={"subject": "item"}),
    "transport_emission_factors": KindSpec(
        header=(),
        keys=(Field("mode", "str", choices=("truck", "rail", "bulk_ship", "barge", "pipeline")),),
        values=(Field("kg_co2e_per_tkm", "float", min=0.0, max=5.0, unit="kg/(t*km)"),),
        columns={"subject": "mode"}),
    "emission_limits": KindSpec(
        header=(),
        keys=(Field("plant_id", "str"), Field("pollutant", "str"), Field("averaging", "str", choices=("day", "year"))),
        values=(Field("limit", "float", min=0.0, unit="@unit"), Field("unit", "str", choices=("kg", "t"))),
        columns={"plant_id": "plant_id", "subject": "pollutant", "qualifier": "averaging"}),
    "carbon_pricing": KindSpec(
        header=(),
        keys=(Field("plant_id", "str"),),
        values=(Field("scheme", "str", choices=("eu_ets", "carbon_tax", "none")),
                Field("price_series", "str", required=False),
                Field("tax_rate", "float", required=False, min=0.0),
                Field("currency", "str", required=False),
                Field("price_floor", "float", required=False, min=0.0),
                Field("free_allocation_share", "float", min=0.0, max=1.0, unit="1")),
        columns={"plant_id": "plant_id", "qualifier": "scheme"}),
}
HEADER_FIELDS = (Field("document_id", "str"), Field("version", "int", min=1, max=2**31 - 1),
                 Field("kind", "str", choices=tuple(KINDS)),
                 Field("title", "str"), Field("source", "str"))


class DocumentRejected(ContractViolation):
    """A regulatory document that cannot be accepted; ``field`` names the field at fault."""

    def __init__(self, document: str, field_: str, reason: str) -> None:
        super().__init__(f"{document}: {field_}: {reason}")
        self.document, self.field, self.reason = document, field_, reason


@dataclass(frozen=True)
class Document:
    """A validated document version."""

    document_id: str
    version: int
    kind: str
    title: str
    source: str
    valid_from: dt.date
    declared_valid_to: dt.date | None
    header: Mapping[str, Any]
    entries: tuple[Mapping[str, Any], ...]

    @property
    def name(self) -> str:
        return f"{self.document_id} v{self.version}"


# ------------------------------------------------------------------------------------ parsing
MAX_DOCUMENT_BYTES = 256 * 1024
"""Largest document accepted (256 KiB; the shipped documents are 1–3 kB). Checked before reading.
PyYAML's pure-Python loader (which the checks below need) reads about 50–100 kB/s."""
MAX_NODES = 50_000
"""Most values (mappings, lists and scalars) one document may hold."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists (a document needs 4)."""


class _Refused(Exception):
    """A construct the document loader does not accept (duplicate key, alias, limit)."""


class _DocumentLoader(yaml.SafeLoader):
    """PyYAML's safe loader made strict for documents from outside.

    - No anchors or aliases: an alias is how a few hundred bytes expand to gigabytes
      ("billion laughs"), and a data document has no need for them.
    - At most :data:`MAX_NODES` values and :data:`MAX_DEPTH` levels, counted while composing.
    - A key twice in one mapping is an error naming the key and both lines (PyYAML keeps the last).
    - Keys are text.
    - Dates stay text, so an impossible date (2026-02-30) is a field error of the validation, not a
      ``ValueError`` inside the parser; YAML and JSON documents then read dates the same way.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(f"alias *{event.anchor} on line {line}: anchors and aliases are not allowed")
        if getattr(event, "anchor", None) is not None:
            raise _Refused(f"anchor &{event.anchor} on line {line}: anchors and aliases are not allowed")
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(f"more than {MAX_NODES} values (line {line})")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep (line {line})")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(None, None, f"expected a mapping, found {node.id}", node.start_mark)
        mapping: dict[str, Any] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(f"merge key << on line {line} is not allowed")
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise _Refused(f"key {key!r} on line {line} is {_type_name(key)}; keys must be text")
            if key in mapping:
                raise _Refused(f"duplicate key {key!r} on line {line} (first on line {lines[key]})")
            lines[key] = line
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


_DocumentLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


def _load_yaml(text: str) -> Any:
    loader = _DocumentLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _load_json(text: str) -> Any:
    """``json.loads`` with duplicate keys refused (the standard decoder keeps the last)."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            raise _Refused("duplicate key")
        return out

    try:
        return json.loads(text, object_pairs_hook=unique)
    except _Refused:
        return _JSONDecoder().decode(text)  # slower, but it knows where: raises naming key and line


class _JSONDecoder(json.JSONDecoder):
    """A pure-Python JSON decoder that names the key and line of a duplicate key."""

    def __init__(self) -> None:
        super().__init__()
        self.parse_object = self._parse_object
        self.scan_once = json.scanner.py_make_scanner(self)  # the C scanner would not call parse_object

    @staticmethod
    def _parse_object(s_and_end: tuple[str, int], strict: bool, scan_once: Any, object_hook: Any,
                      object_pairs_hook: Any, memo: Any = None) -> tuple[dict[str, Any], int]:
        pairs, end = json.decoder.JSONObject(s_and_end, strict, scan_once, None, list, memo)
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                text, start = s_and_end
                raise _Refused(f"duplicate key {key!r} in the object starting on line {text.count(chr(10), 0, start) + 1}")
            out[key] = value
        return out, end


def _check_size(data: Any) -> None:
    """Count values and nesting of parsed JSON (the YAML loader counts while composing)."""
    stack, nodes = [(data, 1)], 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _Refused(f"more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _Refused(f"nested more than {MAX_DEPTH} levels deep")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)


def _yaml_error(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = ", ".join(p for p in (exc.context, exc.problem) if p)
        return f"{what} (line {mark.line + 1}, column {mark.column + 1})" if mark else what
    return str(exc).splitlines()[0]


def parse_document(content: bytes, file_name: str) -> dict[str, Any]:
    """YAML or JSON bytes (by the file's suffix) → a mapping.

    Refused, each with a reason: more than :data:`MAX_DOCUMENT_BYTES`, bytes that are not UTF-8,
    an empty file, a syntax error (with its line), a duplicate key (with its line), YAML anchors
    and aliases, more than :data:`MAX_NODES` values or :data:`MAX_DEPTH` levels, and a document
    that is not a mapping.

    Raises:
        DocumentRejected: field ``(file)``; never any other exception for what the bytes hold.
    """
    fmt = "JSON" if file_name.lower().endswith(".json") else "YAML"

    def rejected(reason: str) -> DocumentRejected:
        return DocumentRejected(file_name, "(file)", reason)

    if len(content) > MAX_DOCUMENT_BYTES:
        raise rejected(f"{len(content)} bytes, more than the {MAX_DOCUMENT_BYTES} bytes a document may have")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise rejected(f"not UTF-8 text: byte 0x{content[exc.start]:02x} at offset {exc.start}") from None
    if not text.strip():
        raise rejected("the file is empty")
    try:
        if fmt == "JSON":
            data = _load_json(text)
            _check_size(data)
        else:
            data = _load_yaml(text)
    except _Refused as exc:
        raise rejected(f"not accepted as a {fmt} document: {exc}") from None
    except json.JSONDecodeError as exc:
        raise rejected(f"not a valid JSON document: {exc}") from None
    except yaml.YAMLError as exc:
        raise rejected(f"not a valid YAML document: {_yaml_error(exc)}") from None
    except RecursionError:
        raise rejected(f"not accepted as a {fmt} document: nested more than {MAX_DEPTH} levels deep") from None
    except Exception as exc:  # a corner of the parser we did not foresee must still reject only this file
        log.warning("unexpected error parsing %s", file_name, exc_info=True)
        raise rejected(f"not a valid {fmt} document: {type(exc).__name__}: {exc}") from None
    if data is None:
        raise rejected("the file holds no document (only comments or an empty document)")
    if not isinstance(data, dict):
        raise rejected(f"expected a mapping with document_id, version, kind ..., found {_type_name(data)}")
    return data


def _type_name(value: Any) -> str:
    names = {list: "a list", str: "text", int: "a number", float: "a number", bool: "a boolean", set: "a set",
             bytes: "binary data"}
    return names.get(type(value), f"a {type(value).__name__}")


def _coerce(doc: str, path: str, f: Field, value: Any) -> Any:
    if value is None:
        if f.required:
            raise DocumentRejected(doc, path, "required field is missing")
        return None
    if f.type == "str":
        if not isinstance(value, str) or not value.strip():
            raise DocumentRejected(doc, path, f"expected a non-empty string, found {value!r}")
        value = value.strip()
    elif f.type in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DocumentRejected(doc, path, f"expected a number, found {value!r}")
        if isinstance(value, float) and not math.isfinite(value):  # before int(), which raises on these
            raise DocumentRejected(doc, path, f"expected a finite number, found {value!r}")
        if f.type == "int" and value != int(value):
            raise DocumentRejected(doc, path, f"expected an integer, found {value!r}")
        value = int(value) if f.type == "int" else float(value)
        shown = (lambda x: str(int(x))) if f.type == "int" else (lambda x: f"{x:g}")
        if f.min is not None and value < f.min:
            raise DocumentRejected(doc, path, f"must be >= {shown(f.min)}, found {shown(value)}")
        if f.max is not None and value > f.max:
            raise DocumentRejected(doc, path, f"must be <= {shown(f.max)}, found {shown(value)}")
    elif f.type == "bool":
        if not isinstance(value, bool):
            raise DocumentRejected(doc, path, f"expected true or false, found {value!r}")
    if f.choices is not None and value not in f.choices:
        raise DocumentRejected(doc, path, f"must be one of {', '.join(f.choices)}; found {value!r}")
    return value


def _date(doc: str, path: str, value: Any, required: bool) -> dt.date | None:
    if value is None:
        if required:
            raise DocumentRejected(doc, path, "required field is missing")
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise DocumentRejected(doc, path, f"expected a date YYYY-MM-DD, found {value!r}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:  # e.g. 2026-02-30: "day is out of range for month"
        raise DocumentRejected(doc, path, f"expected a date YYYY-MM-DD, found {value!r} ({exc})") from None


def validate_document(data: Mapping[str, Any], file_name: str = "<document>") -> Document:
    """Check one document on its own (fields, types, ranges, self-consistency).

    Raises:
        DocumentRejected: naming the document and the field.
    """
    doc_id, version = data.get("document_id"), data.get("version")
    doc = doc_id.strip() if isinstance(doc_id, str) and doc_id.strip() else file_name
    if isinstance(version, int) and not isinstance(version, bool):
        doc = f"{doc} v{version}"
    header = {f.name: _coerce(doc, f.name, f, data.get(f.name)) for f in HEADER_FIELDS}
    kind = KINDS[header["kind"]]
    known_top = [f.name for f in HEADER_FIELDS + kind.header] + ["valid_from", "valid_to", "entries"]
    unknown_top = sorted(set(data) - set(known_top), key=str)
    if unknown_top:
        raise DocumentRejected(doc, str(unknown_top[0]), f"unknown field for kind {header['kind']}; expected "
                               f"{', '.join(known_top)}")
    valid_from = _date(doc, "valid_from", data.get("valid_from"), True)
    valid_to = _date(doc, "valid_to", data.get("valid_to"), False)
    if valid_to is not None and valid_to <= valid_from:
        raise DocumentRejected(doc, "valid_to", f"must be after valid_from {valid_from}, found {valid_to}")
    extra = {f.name: _coerce(doc, f.name, f, data.get(f.name)) for f in kind.header}
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        raise DocumentRejected(doc, "entries", "required: a non-empty list of entries")
    out, seen = [], {}
    for i, entry in enumerate(entries):
        where = f"entries[{i}]"
        if not isinstance(entry, dict):
            raise DocumentRejected(doc, where, f"expected a mapping, found {entry!r}")
        known = {f.name for f in kind.keys + kind.values}
        unknown = sorted(set(entry) - known)
        if unknown:
            raise DocumentRejected(doc, f"{where}.{unknown[0]}", f"unknown field for kind {header['kind']}; "
                                   f"expected {', '.join(sorted(known))}")
        row = {f.name: _coerce(doc, f"{where}.{f.name}", f, entry.get(f.name)) for f in kind.keys + kind.values}
        key = tuple(row[f.name] for f in kind.keys)
        if key in seen:
            j, other = seen[key]
            diff = [f.name for f in kind.values if other.get(f.name) != row.get(f.name)]
            what = (f"contradicts entries[{j}]: same {', '.join(f'{f.name}={k}' for f, k in zip(kind.keys, key))} with "
                    + ", ".join(f"{n} {other.get(n)!r} vs {row.get(n)!r}" for n in diff)) if diff else \
                f"repeats entries[{j}] ({', '.join(f'{f.name}={k}' for f, k in zip(kind.keys, key))})"
            raise DocumentRejected(doc, where, what)
        seen[key] = (i, row)
        _check_entry(doc, where, header["kind"], row, extra)
        out.append(row)
    return Document(header["document_id"], header["version"], header["kind"], header["title"], header["source"],
                    valid_from, valid_to, extra, tuple(out))


def _check_entry(doc: str, where: str, kind: str, row: Mapping[str, Any], header: Mapping[str, Any]) -> None:
    """Cross-field rules of one entry."""
    if kind == "gwp_set" and row["gas"] == "co2" and row["gwp100"] != 1.0:
        raise DocumentRejected(doc, f"{where}.gwp100", f"the GWP of CO2 is 1 by definition, found {row['gwp100']:g}")
    if kind == "carbon_pricing":
        if row["scheme"] == "eu_ets" and not row.get("price_series"):
            raise DocumentRejected(doc, f"{where}.price_series", "scheme eu_ets needs the allowance price series")
        if row["scheme"] == "carbon_tax" and (row.get("tax_rate") is None or not row.get("currency")):
            raise DocumentRejected(doc, f"{where}.tax_rate", "scheme carbon_tax needs tax_rate and currency")
        if row.get("price_floor") is not None and not row.get("currency"):
            raise DocumentRejected(doc, f"{where}.currency", "a price_floor needs its currency")


def _content_key(doc: Document) -> str:
    return json.dumps([doc.kind, doc.title, doc.source, str(doc.valid_from), str(doc.declared_valid_to),
                       dict(doc.header), list(map(dict, doc.entries))], sort_keys=True, default=str)


def resolve_versions(docs: list[Document]) -> tuple[list[tuple[Document, dt.date | None]], list[tuple[Document, str, str]]]:
    """Order the versions of each document, close each with the next, and reject overlaps.

    Args:
        docs: validated documents in arrival order.

    Returns:
        (accepted, rejected): accepted as ``(document, effective valid_to)``; rejected as
        ``(document, field, reason)``.
    """
    accepted: list[tuple[Document, dt.date | None]] = []
    rejected: list[tuple[Document, str, str]] = []
    by_id: dict[str, dict[int, Document]] = {}
    for doc in docs:
        versions = by_id.setdefault(doc.document_id, {})
        if doc.version in versions:
            if _content_key(versions[doc.version]) != _content_key(doc):
                rejected.append((doc, "version", f"version {doc.version} of {doc.document_id} is already in force with "
                                 f"different content; issue version {max(versions) + 1} instead"))
            continue  # same content again: nothing new
        # Check against the neighbours it would have.
        ordered = sorted([*versions.values(), doc], key=lambda d: d.version)
        i = ordered.index(doc)
        prev = ordered[i - 1] if i > 0 else None
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        problem = None
        if prev is not None and doc.valid_from <= prev.valid_from:
            problem = ("valid_from", f"{doc.valid_from} must be after version {prev.version}'s valid_from {prev.valid_from}")
        elif prev is not None and prev.declared_valid_to is not None and prev.declared_valid_to > doc.valid_from:
            problem = ("valid_from", f"{doc.valid_from} overlaps version {prev.version}, in force "
                       f"{prev.valid_from} to {prev.declared_valid_to}")
        elif nxt is not None and doc.valid_from >= nxt.valid_from:
            problem = ("valid_from", f"{doc.valid_from} must be before version {nxt.version}'s valid_from {nxt.valid_from}")
        elif nxt is not None and doc.declared_valid_to is not None and doc.declared_valid_to > nxt.valid_from:
            problem = ("valid_to", f"{doc.declared_valid_to} overlaps version {nxt.version}, in force from {nxt.valid_from}")
        if problem:
            rejected.append((doc, *problem))
            continue
        versions[doc.version] = doc
    for versions in by_id.values():
        ordered = sorted(versions.values(), key=lambda d: d.version)
        for i, doc in enumerate(ordered):
            ends = [d for d in (doc.declared_valid_to, ordered[i + 1].valid_from if i + 1 < len(ordered) else None) if d]
            accepted.append((doc, min(ends) if ends else None))
    return accepted, rejected


def rule_rows(doc: Document, valid_to: dt.date | None) -> list[dict[str, Any]]:
    """Long-format silver rows of one accepted document version."""
    kind = KINDS[doc.kind]
    rows = []
    for entry in doc.entries:
        ctx = {**doc.header, **entry}
        entry_key = "|".join(f"{f.name}={entry[f.name]}" for f in kind.keys)
        cols = {c: (str(ctx[f]) if ctx.get(f) is not None else None) for c, f in kind.columns.items()}
        for f in kind.values:
            if f.name == "unit":
                continue
            v = entry.get(f.name)
            if v is None:
                continue
            numeric = f.type in ("float", "int")
            unit = entry.get("unit") if f.unit == "@unit" else f.unit
            if doc.kind == "carbon_pricing" and f.name in ("tax_rate", "price_floor"):
                unit = f"{entry.get('currency')}/t"
            rows.append({"document_id": doc.document_id, "version": doc.version, "kind": doc.kind,
                         "valid_from": doc.valid_from, "valid_to": valid_to, "entry_key": entry_key,
                         "plant_id": cols.get("plant_id"), "region": cols.get("region"), "subject": cols.get("subject"),
                         "qualifier": cols.get("qualifier"), "parameter": f.name,
                         "value": float(v) if numeric else (1.0 if v is True else 0.0 if v is False else None),
                         "text_value": None if numeric else str(v), "unit": unit})
    return rows


def check_document(data: Mapping[str, Any], file_name: str) -> Document:
    """:func:`validate_document`, with any unforeseen error turned into a rejection of this document.

    One document must never stop the feed: an error in the checks themselves is logged with its
    traceback and rejects only the document that caused it.
    """
    try:
        return validate_document(data, file_name)
    except DocumentRejected:
        raise
    except Exception as exc:
        log.exception("unexpected error validating %s", file_name)
        raise DocumentRejected(file_name, "(document)", f"could not be checked: {type(exc).__name__}: {exc}") from None


def _reason(exc: DocumentRejected) -> str:
    """The rejection as people read it: file-level problems as they are, else naming document and field."""
    return exc.reason if exc.field == "(file)" else str(exc)


# ---------------------------------------------------------------------------------- pipeline
def land(lake: Lake, landing_dir: str | Path, meta: CommitMeta) -> dict[str, Any]:
    """Land every document waiting in ``landing/regulatory/`` into raw."""
    return land_documents(lake, landing_dir, source=SOURCE, meta=meta).as_dict()


def _read_document(lake: Lake, f: Mapping[str, Any]) -> dict[str, Any]:
    """The landed file of manifest row ``f`` parsed (its size checked before it is read)."""
    if f["size_bytes"] > MAX_DOCUMENT_BYTES:
        raise DocumentRejected(f["file_name"], "(file)", f"{f['size_bytes']} bytes, more than the "
                               f"{MAX_DOCUMENT_BYTES} bytes a document may have")
    return parse_document(lake.files.read_bytes(f["raw_path"]), f["file_name"])


def load_bronze(lake: Lake, meta: CommitMeta) -> dict[str, Any]:
    """Parse and check every landed document, then write them to ``bronze.regulatory__documents``.

    Write-audit-publish: every waiting file is parsed and checked on its own
    (:func:`parse_document`, :func:`validate_document`) before anything is written. Each file
    gets one bronze row — its content as JSON, or the parse error — and its manifest row becomes
    ``loaded``, or ``rejected`` with the reason. Nothing a file contains raises here, so a bad
    file never blocks the ones after it or later runs. Checks against other versions happen in
    :func:`publish_silver`.
    """
    files = manifest(lake, source=SOURCE)
    todo = [r for r in files.to_pylist() if r["status"] == "landed"]
    now = dt.datetime.now(dt.timezone.utc)
    rows, updates, rejected = [], [], []
    for r in sorted(todo, key=lambda r: (r["received_at"], r["file_name"])):
        row = {"sha256": r["sha256"], "file_name": r["file_name"], "document_id": None, "version": None, "kind": None,
               "content_json": None, "_parse_error": None, "_source_file": r["raw_path"],
               "_received_at": r["received_at"], "_ingested_at": now, "_run_id": meta.run_id}
        update = {**r, "status": "loaded", "reason": None, "rows_loaded": 1, "_run_id": meta.run_id}
        try:
            data = _read_document(lake, r)
            row["content_json"] = json.dumps(data, default=str, sort_keys=True)
            doc_id, version, kind = data.get("document_id"), data.get("version"), data.get("kind")
            row["document_id"] = doc_id if isinstance(doc_id, str) else None
            row["version"] = version if isinstance(version, int) and not isinstance(version, bool) \
                and -2**63 <= version < 2**63 else None
            row["kind"] = kind if isinstance(kind, str) else None
            check_document(data, r["file_name"])
        except DocumentRejected as exc:
            if row["content_json"] is None:
                row["_parse_error"] = exc.reason
            update.update(status="rejected", reason=_reason(exc))
            rejected.append(f"{r['file_name']}: {_reason(exc)}")
            log.warning("rejected %s: %s", r["file_name"], _reason(exc))
        rows.append(row)
        updates.append(update)
    if rows:  # bronze first: if the manifest write fails, the next run loads the same files again (upsert)
        lake.upsert(BRONZE_REGULATORY_DOCUMENTS, pa.Table.from_pylist(rows, schema=BRONZE_REGULATORY_DOCUMENTS.schema), meta=meta)
        lake.upsert(RAW_FILES, pa.Table.from_pylist(updates, schema=RAW_FILES.schema), meta=meta)
    return {"documents": len(rows), "parse_errors": sum(r["_parse_error"] is not None for r in rows),
            "rejected": rejected}


def publish_silver(lake: Lake, meta: CommitMeta) -> dict[str, Any]:
    """Validate every loaded document and rebuild the silver document, rule and rejection tables.

    ``silver.regulatory__rejections`` accounts for every file that arrived and is not in force:
    refused at landing (unexpected suffix), a copy of a file already landed, unparseable,
    invalid on its own, or in conflict with another version.
    """
    files = manifest(lake, source=SOURCE).to_pylist()
    bronze = lake.read(BRONZE_REGULATORY_DOCUMENTS).to_pylist() if lake.exists(BRONZE_REGULATORY_DOCUMENTS) else []
    bronze.sort(key=lambda r: (r["_received_at"], r["file_name"]))
    in_bronze = {(r["sha256"], r["file_name"]) for r in bronze}
    valid: list[tuple[Document, dict]] = []
    rejections = []  # (received_at, row)
    for f in files:
        if (f["sha256"], f["file_name"]) in in_bronze or f["status"] in ("landed", "loaded"):
            continue  # in bronze (checked below), or waiting for load_bronze
        reason = f["reason"] or f"file {f['status']}"
        if f["status"] == "duplicate":
            reason = f"not loaded again: {reason}"
        rejections.append((f["received_at"], {"sha256": f["sha256"], "file_name": f["file_name"], "document_id": None,
                                              "version": None, "field": "(file)", "reason": reason,
                                              "_source_file": f["raw_path"]}))
    for r in bronze:
        if r["_parse_error"] is not None:
            rejections.append((r["_received_at"], {**_rej_base(r), "field": "(file)", "reason": r["_parse_error"]}))
            continue
        try:
            doc = check_document(json.loads(r["content_json"]), r["file_name"])
        except DocumentRejected as exc:
            rejections.append((r["_received_at"], {**_rej_base(r), "field": exc.field, "reason": _reason(exc)}))
            continue
        valid.append((doc, r))
    # Versions in version order per document; arrival order only breaks ties of equal versions.
    ordered = sorted(valid, key=lambda dr: (dr[0].document_id, dr[0].version))
    accepted, conflicts = resolve_versions([d for d, _ in ordered])
    src = {id(d): r for d, r in valid}
    for doc, fld, reason in conflicts:
        r = src[id(doc)]
        rejections.append((r["_received_at"], {**_rej_base(r), "field": fld, "reason": f"{doc.name}: {fld}: {reason}"}))
    rejections.sort(key=lambda x: (x[0], x[1]["file_name"]))
    documents, rules = [], []
    for doc, valid_to in accepted:
        r = src[id(doc)]
        documents.append({"document_id": doc.document_id, "version": doc.version, "kind": doc.kind, "title": doc.title,
                          "source": doc.source, "valid_from": doc.valid_from, "valid_to": valid_to,
                          "declared_valid_to": doc.declared_valid_to, "entries": len(doc.entries), "sha256": r["sha256"],
                          "_source_file": r["_source_file"], "_run_id": meta.run_id})
        rules.extend(rule_rows(doc, valid_to))
    lake.overwrite(SILVER_REGULATORY_DOCUMENTS, pa.Table.from_pylist(documents, schema=SILVER_REGULATORY_DOCUMENTS.schema), meta=meta)
    lake.overwrite(SILVER_REGULATORY_RULES, pa.Table.from_pylist(rules, schema=SILVER_REGULATORY_RULES.schema), meta=meta)
    lake.overwrite(SILVER_REGULATORY_REJECTIONS, pa.Table.from_pylist(
        [{**x, "_run_id": meta.run_id} for _, x in rejections], schema=SILVER_REGULATORY_REJECTIONS.schema), meta=meta)
    return {"documents": len(documents), "rules": len(rules),
            "rejected": [f"{x['file_name']}: {x['reason']}" for _, x in rejections]}


def _rule_value(row: Mapping[str, Any]) -> Any:
    """The value of a silver rule row: its text if it has one, else its number (None if neither)."""
    text, value = row["text_value"], row["value"]
    if not pd.isna(text):
        return text
    return None if pd.isna(value) else float(value)


def _rej_base(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"sha256": r["sha256"], "file_name": r["file_name"], "document_id": r["document_id"],
            "version": r["version"], "_source_file": r["_source_file"]}


def build_gold(lake: Lake, meta: CommitMeta) -> dict[str, Any]:
    """Rebuild the gold dimensions (emission factors, limits, carbon pricing) from silver."""
    rules = lake.read(SILVER_REGULATORY_RULES).to_pandas()
    docs = lake.read(SILVER_REGULATORY_DOCUMENTS).to_pandas()
    source = dict(zip(zip(docs["document_id"], docs["version"]), docs["source"]))
    rules["source"] = [source[k] for k in zip(rules["document_id"], rules["version"])]
    ref = ["valid_from", "valid_to", "document_id", "version", "source"]

    factors = []
    for _, r in rules.iterrows():
        base = {k: r[k] for k in ref}
        if r["kind"] == "gwp_set":
            factors.append({**base, "factor_kind": "gwp100", "subject": r["subject"], "qualifier": r["qualifier"],
                            "gas": r["subject"], "value": r["value"], "unit": "1", "biogenic": r["subject"] == "ch4_biogenic"})
        elif r["kind"] == "grid_emission_factors":
            factors.append({**base, "factor_kind": "grid_electricity", "subject": r["region"], "qualifier": r["qualifier"],
                            "gas": "co2e", "value": r["value"], "unit": "kg/kWh", "biogenic": False})
        elif r["kind"] == "fuel_emission_factors" and r["parameter"] != "biogenic":
            entry = rules[(rules["document_id"] == r["document_id"]) & (rules["version"] == r["version"])
                          & (rules["entry_key"] == r["entry_key"]) & (rules["parameter"] == "biogenic")]
            bio = bool(entry["value"].iloc[0]) if len(entry) else False
            factors.append({**base, "factor_kind": "fuel_combustion", "subject": r["subject"], "qualifier": "",
                            "gas": r["parameter"].split("_")[0], "value": r["value"], "unit": "kg/GJ",
                            "biogenic": bio and r["parameter"].startswith("co2")})
        elif r["kind"] == "material_emission_factors" and r["parameter"] == "kg_co2e_per_kg":
            factors.append({**base, "factor_kind": "material", "subject": r["subject"], "qualifier": "",
                            "gas": "co2e", "value": r["value"], "unit": "kg/kg", "biogenic": False})
        elif r["kind"] == "transport_emission_factors":
            factors.append({**base, "factor_kind": "transport", "subject": r["subject"], "qualifier": "",
                            "gas": "co2e", "value": r["value"], "unit": "kg/(t*km)", "biogenic": False})
    lake.overwrite(DIM_EMISSION_FACTORS, pd.DataFrame(factors, columns=DIM_EMISSION_FACTORS.column_names), meta=meta)

    lim = rules[(rules["kind"] == "emission_limits") & (rules["parameter"] == "limit")]
    limits = pd.DataFrame({"plant_id": lim["plant_id"], "pollutant": lim["subject"], "averaging": lim["qualifier"],
                           "limit_value": lim["value"], "unit": lim["unit"], **{k: lim[k] for k in ref}})
    lake.overwrite(DIM_REGULATORY_LIMITS, limits[DIM_REGULATORY_LIMITS.column_names], meta=meta)

    cp = rules[rules["kind"] == "carbon_pricing"]
    pricing = []
    for (doc_id, version, key), g in cp.groupby(["document_id", "version", "entry_key"], sort=True):
        p = {row["parameter"]: _rule_value(row) for _, row in g.iterrows()}
        first = g.iloc[0]
        pricing.append({"plant_id": first["plant_id"], "scheme": p["scheme"], "price_series": p.get("price_series"),
                        "tax_rate": p.get("tax_rate"), "currency": p.get("currency"), "price_floor": p.get("price_floor"),
                        "free_allocation_share": p["free_allocation_share"], **{k: first[k] for k in ref}})
    lake.overwrite(DIM_CARBON_PRICING, pd.DataFrame(pricing, columns=DIM_CARBON_PRICING.column_names), meta=meta)
    return {"emission_factors": len(factors), "limits": len(limits), "carbon_pricing": len(pricing)}


# ------------------------------------------------------------------------------- as-of lookup
@dataclass(frozen=True)
class RulesInForce:
    """The rules and factors in force at one plant on one day (after any scenario overrides).

    Attributes:
        plant_id, on: the question asked.
        gwp_set: GWP set used (``AR6`` by default).
        gwp100: gas → GWP100.
        grid_location_kg_per_kwh, grid_market_kg_per_kwh: grid factors of the plant's region.
        fuels: fuel → {co2_kg_per_gj, ch4_kg_per_gj, n2o_kg_per_gj, biogenic}.
        materials: item → kg CO2e per kg (cradle to gate).
        transport: freight mode → kg CO2e per tonne-kilometre.
        limits: (pollutant, averaging) → {limit, unit}.
        carbon_pricing: {scheme, price_series, tax_rate, currency, price_floor, free_allocation_share}.
        documents: (document_id, version) of every version used, for lineage.
        sources: factor key → ``"document_id v<version>"`` (or ``"scenario override"``), for the
            factor-level lineage carbon accounting records. Keys: ``gwp100``, ``grid:location``,
            ``grid:market``, ``fuel:<fuel>``, ``material:<item>``, ``transport:<mode>``.
    """

    plant_id: str
    on: dt.date
    gwp_set: str
    gwp100: Mapping[str, float]
    grid_location_kg_per_kwh: float | None
    grid_market_kg_per_kwh: float | None
    fuels: Mapping[str, Mapping[str, float]]
    materials: Mapping[str, float]
    transport: Mapping[str, float]
    limits: Mapping[tuple[str, str], Mapping[str, Any]]
    carbon_pricing: Mapping[str, Any]
    documents: tuple[tuple[str, int], ...] = field(default=())
    sources: Mapping[str, str] = field(default_factory=dict)

    def co2e_kg(self, gas: str, mass_kg: float) -> float:
        """Mass of a gas in kg CO2e with the GWP set in force."""
        try:
            return mass_kg * self.gwp100[gas]
        except KeyError:
            raise KeyError(f"no GWP100 for {gas!r} in set {self.gwp_set} on {self.on}; known {sorted(self.gwp100)}") from None


def in_force(rules: pd.DataFrame, on: dt.date) -> pd.DataFrame:
    """Rows of a rules table (silver rules or a gold dimension) in force on ``on``."""
    start_ok = pd.to_datetime(rules["valid_from"]).dt.date <= on
    end = rules["valid_to"]
    end_ok = end.isna() | (pd.to_datetime(end).dt.date > on)
    return rules[start_ok & end_ok]


def rules_from_frame(rules: pd.DataFrame, plant_id: str, on: dt.date, *, gwp_set: str = DEFAULT_GWP_SET,
                     overrides: Mapping[str, Any] | None = None) -> RulesInForce:
    """:func:`rules_in_force` on a silver rules frame (for tests and scenario tools)."""
    now = in_force(rules, on)
    region = get_site(plant_id).grid_region
    gwp = now[(now["kind"] == "gwp_set") & (now["qualifier"] == gwp_set)]
    grid = now[(now["kind"] == "grid_emission_factors") & (now["region"] == region)]
    grid_value = {q: float(v) for q, v in zip(grid["qualifier"], grid["value"])}
    fuels: dict[str, dict[str, float]] = {}
    for _, r in now[now["kind"] == "fuel_emission_factors"].iterrows():
        fuels.setdefault(r["subject"], {})[r["parameter"]] = bool(r["value"]) if r["parameter"] == "biogenic" else r["value"]
    materials = {r["subject"]: r["value"] for _, r in now[(now["kind"] == "material_emission_factors")
                                                          & (now["parameter"] == "kg_co2e_per_kg")].iterrows()}
    transport = {r["subject"]: r["value"] for _, r in now[now["kind"] == "transport_emission_factors"].iterrows()}
    lim = now[(now["kind"] == "emission_limits") & (now["plant_id"] == plant_id) & (now["parameter"] == "limit")]
    limits = {(r["subject"], r["qualifier"]): {"limit": r["value"], "unit": r["unit"], "document_id": r["document_id"],
                                              "version": int(r["version"])} for _, r in lim.iterrows()}
    cp = now[(now["kind"] == "carbon_pricing") & (now["plant_id"] == plant_id)]
    pricing = {r["parameter"]: _rule_value(r) for _, r in cp.iterrows()}
    pricing = {"scheme": "none", "free_allocation_share": 0.0, **pricing}
    used = pd.concat([gwp, grid, now[now["kind"].isin(["fuel_emission_factors", "material_emission_factors",
                                                             "transport_emission_factors"])], lim, cp])
    docs = tuple(sorted({(d, int(v)) for d, v in zip(used["document_id"], used["version"])}))

    def ref(frame: pd.DataFrame) -> str:
        return f"{frame['document_id']} v{int(frame['version'])}"

    sources = {f"grid:{r['qualifier']}": ref(r) for _, r in grid.iterrows()}
    sources.update({f"{prefix}:{r['subject']}": ref(r) for kind, prefix in (
        ("fuel_emission_factors", "fuel"), ("material_emission_factors", "material"),
        ("transport_emission_factors", "transport")) for _, r in now[now["kind"] == kind].iterrows()})
    if len(gwp):
        sources["gwp100"] = ref(gwp.iloc[0])
    result = RulesInForce(plant_id, on, gwp_set, dict(zip(gwp["subject"], gwp["value"])), grid_value.get("location"),
                          grid_value.get("market"), fuels, materials, transport, limits, pricing, docs, sources)
    return apply_overrides(result, overrides) if overrides else result


def apply_overrides(rules: RulesInForce, overrides: Mapping[str, Any]) -> RulesInForce:
    """A scenario's version of the rules: scalar fields replaced, mapping fields merged.

    Example: ``{"grid_location_kg_per_kwh": 0.1, "carbon_pricing": {"scheme": "carbon_tax",
    "tax_rate": 150.0, "currency": "EUR"}, "limits": {("co2e_scope1", "year"): {"limit": 5000, "unit": "t"}}}``.
    """
    names = {f.name for f in dataclasses.fields(RulesInForce)} - {"plant_id", "on", "documents", "sources"}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown override(s) {unknown}; can override {sorted(names)}")
    changes: dict[str, Any] = {}
    sources = dict(rules.sources)
    prefixes = {"fuels": "fuel", "materials": "material", "transport": "transport"}
    for name, value in overrides.items():
        current = getattr(rules, name)
        changes[name] = {**current, **value} if isinstance(current, Mapping) and isinstance(value, Mapping) else value
        if name in prefixes:
            sources.update({f"{prefixes[name]}:{k}": "scenario override" for k in value})
        elif name.startswith("grid_"):
            sources[f"grid:{name.split('_')[1]}"] = "scenario override"
        elif name in ("gwp100", "gwp_set"):
            sources["gwp100"] = "scenario override"
    return dataclasses.replace(rules, **changes, sources=sources)


def rules_in_force(plant_id: str, on: dt.date, *, lake: Lake | None = None, gwp_set: str = DEFAULT_GWP_SET,
                   overrides: Mapping[str, Any] | None = None) -> RulesInForce:
    """What rules were in force at ``plant_id`` on ``on`` (a scenario may override them).

    Reads ``silver.regulatory__rules`` (full history), so any past day is answered with the
    versions in force that day, including versions that have since been superseded.
    """
    lake = lake or Lake()
    return rules_from_frame(lake.read(SILVER_REGULATORY_RULES).to_pandas(), plant_id, on, gwp_set=gwp_set,
                            overrides=overrides)


def run_all(lake: Lake, landing_dir: str | Path, meta: CommitMeta) -> dict[str, Any]:
    """All steps in order (what the DAG does)."""
    return {"land": land(lake, landing_dir, meta), "bronze": load_bronze(lake, meta),
            "silver": publish_silver(lake, meta), "gold": build_gold(lake, meta)}


def seed_documents_dir() -> Path:
    """The regulatory documents shipped with Nexus (cited public factors and demo permits)."""
    return Path(__file__).resolve().parent / "reference" / "regulatory"

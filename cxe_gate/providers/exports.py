"""Exports as services write them: the files a path names (one file, a glob, a folder of daily
shards), the DuckDB reader over them, and SQL that reaches a nested field whatever the format made
of it (a struct, a map, JSON text, an Avro union wrapper, a number written as a string)."""

from __future__ import annotations

import glob
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol


class DuckType(Protocol):
    """A column type as DuckDB's Python API describes it (duckdb.sqltypes.DuckDBPyType; the
    module has moved between DuckDB versions, so only its shape is named here)."""

    @property
    def id(self) -> str: ...

    @property
    def children(self) -> Sequence[tuple[str, Any]]:
        """A struct's or map's fields and their types; a decimal's width and scale, an enum's
        values (never navigated)."""


Format = Literal["parquet", "csv", "json"]
_FORMATS: dict[str, Format] = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".ndjson": "json",
    ".jsonl": "json",
    ".json": "json",
}
FORMAT_NAMES = ".parquet, .csv, .tsv, .ndjson, .jsonl or .json (optionally .gz)"

# BigQuery's GA4 tables, as `bq extract` names their files: events_20261110.json, or with a
# wildcard destination events_20261110-000000000000.json. The streaming export's
# events_intraday_YYYYMMDD holds the same events until the daily table is complete.
_GA4_SHARD = re.compile(r"^events_(intraday_)?(\d{8})(?:-\d+)?\.", re.IGNORECASE)

# Avro's JSON encoding wraps a non-null value of a union ["null", T] in {"<T>": value}.
_AVRO_PRIMITIVES = frozenset({"string", "long", "int", "double", "float", "boolean", "bytes"})


class ExportError(ValueError):
    """The path names no readable export; the message says what was found and what was expected."""


def format_of(path: str) -> Format | None:
    lower = path.lower().removesuffix(".gz")
    return next((kind for suffix, kind in _FORMATS.items() if lower.endswith(suffix)), None)


@dataclass(frozen=True)
class Export:
    """The files of one table and their common format."""

    files: tuple[str, ...]
    format: Format

    @property
    def reader(self) -> str:
        """A DuckDB table function over every file. Shards may differ in columns (GA4 adds
        fields over time) and in types (an INT64 written as a JSON string in one, a number in
        another): columns are matched by name, and types widened to one that holds both."""
        if len(self.files) == 1:
            files, union = _sql_string(self.files[0]), ""
        else:
            files = "[" + ", ".join(_sql_string(f) for f in self.files) + "]"
            union = ", union_by_name = true"
        if self.format == "parquet":
            return f"read_parquet({files}{union})"
        if self.format == "csv":
            return f"read_csv({files}, auto_detect = true{union})"
        return f"read_json({files}, format = 'auto'{union})"


def find_export(path: Path) -> Export:
    """The files `path` names: a file, a glob, or a folder (its files in a known format). Of a
    day's GA4 shards, the daily table's files win over the streaming export's intraday ones."""
    if path.is_dir():
        named = sorted(str(p) for p in path.iterdir() if p.is_file() and format_of(p.name))
        if not named:
            raise ExportError(f"the folder {path} holds no {FORMAT_NAMES} file")
    else:
        named = sorted(p for p in glob.glob(str(path)) if Path(p).is_file())
        if not named:
            raise ExportError(f"no file matches {path}")
        unknown = [p for p in named if format_of(p) is None]
        if unknown:
            raise ExportError(
                f"{unknown[0]}: unknown format; expected {FORMAT_NAMES}"
                + (
                    " (export Avro tables as Parquet or NEWLINE_DELIMITED_JSON instead)"
                    if unknown[0].lower().endswith(".avro")
                    else ""
                )
            )
    kinds = {format_of(p) for p in named}
    if len(kinds) > 1:
        folder = path if path.is_dir() else path.parent
        raise ExportError(
            f"{path} names files of several formats ({', '.join(sorted(map(str, kinds)))}); "
            f"point it at one, e.g. {folder / '*.parquet'}"
        )
    (kind,) = kinds
    assert kind is not None  # files of unknown formats were refused or passed over
    return Export(files=tuple(_without_superseded_shards(named)), format=kind)


def _without_superseded_shards(files: list[str]) -> list[str]:
    """Drop events_intraday_D shards when the daily events_D table of the same day is there too:
    both hold that day's events while the daily table is finishing, so reading both counts twice."""
    daily = set()
    for name in files:
        match = _GA4_SHARD.match(Path(name).name)
        if match and not match.group(1):
            daily.add(match.group(2))
    kept = []
    for name in files:
        match = _GA4_SHARD.match(Path(name).name)
        if match and match.group(1) and match.group(2) in daily:
            continue
        kept.append(name)
    return kept


# --- reaching into nested values --------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    """An SQL expression and its DuckDB type (None: text read out of JSON)."""

    sql: str
    type: DuckType | None

    @property
    def kind(self) -> str:
        if self.type is None:
            return "varchar"
        return "json" if str(self.type) == "JSON" else self.type.id


class Schema:
    """A file's columns and their types, as DuckDB read them."""

    def __init__(self, columns: dict[str, DuckType]):
        self.columns = columns

    def get(self, column: str, *keys: str) -> Value | None:
        """The value at `column`.`keys`..., or None when the file has no such field."""
        if column not in self.columns:
            return None
        return field(Value(quote(column), self.columns[column]), *keys)


def field(value: Value, *keys: str) -> Value | None:
    """Navigate into a struct, a map, or JSON (an object column, or text holding one)."""
    for position, key in enumerate(keys):
        kind = value.kind
        if kind == "struct":
            children = dict(value.type.children)  # type: ignore[union-attr]
            if key not in children:
                if len(children) != 1:
                    return None
                # An Avro union wrapper ({"<record name>": {...}}): look inside it.
                ((wrapper, inner),) = children.items()
                value = Value(f"{value.sql}.{quote(wrapper)}", inner)
                children = dict(inner.children) if inner.id == "struct" else {}
                if key not in children:
                    return None
            value = Value(f"{value.sql}.{quote(key)}", children[key])
        elif kind == "map":
            value_type = dict(value.type.children)["value"]  # type: ignore[union-attr]
            value = Value(f"map_extract_value({value.sql}, {_sql_string(key)})", value_type)
        elif kind in ("json", "varchar"):
            path = "$" + "".join(f".{_json_key(k)}" for k in keys[position:])
            text = value.sql
            if kind == "varchar":  # text that may not be JSON at all: no value, not an error
                return Value(
                    f"CASE WHEN json_valid({text}) THEN json_extract_string({text}, "
                    f"{_sql_string(path)}) END",
                    None,
                )
            return Value(f"json_extract_string({text}, {_sql_string(path)})", None)
        else:
            return None
    return value


def scalar(value: Value) -> str:
    """SQL for a leaf value as the file holds it, unwrapped: Avro's {"long": 5} is 5, JSON's "5"
    is the text 5."""
    while value.kind == "struct":
        children = value.type.children  # type: ignore[union-attr]
        if len(children) != 1 or children[0][0] not in _AVRO_PRIMITIVES:
            break
        value = Value(f"{value.sql}.{quote(children[0][0])}", children[0][1])
    if value.kind == "json":
        return f"json_extract_string({value.sql}, '$')"
    return value.sql


def text(value: Value) -> str:
    """The leaf as VARCHAR."""
    return f"CAST({scalar(value)} AS VARCHAR)"


def integer(value: Value) -> str:
    """The leaf as BIGINT, whether written as a number or as a string (BigQuery's JSON export
    writes every INT64 as a string); text that is no number is an error."""
    return f"CAST({scalar(value)} AS BIGINT)"


def integer_text(value: Value) -> str:
    """An identifier that may be a number (1794837600, "1794837600", 1794837600.0) or text, as
    one spelling: numbers as their digits, other text as it is."""
    leaf = scalar(value)
    return f"coalesce(CAST(TRY_CAST({leaf} AS BIGINT) AS VARCHAR), CAST({leaf} AS VARCHAR))"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sql_string(text_: str) -> str:
    return "'" + text_.replace("'", "''") + "'"

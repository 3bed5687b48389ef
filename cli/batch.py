"""Reading batch files (CSV, JSON, YAML) into rows of input fields, with line numbers.

A file is outside input like an API body: whatever it holds (a NUL byte, a repeated
member name, NaN, 10,000 levels of nesting, a key that is not text) ends in one
ValidationError naming the file, never a traceback.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

from ledger.errors import ValidationError
from ledger.wire.commands import check_depth, parse_input_json


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs; CSV line numbers count the header as line 1."""
    if path.suffix.lower() == ".csv":
        return _csv_rows(path, _text(path))
    data = read_document(path)
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValidationError(f"{path.name}: expected a list of objects", field="file")
    rows = []
    for index, row in enumerate(data):
        if not all(isinstance(k, str) for k in row):
            raise ValidationError(f"{path.name}: row {index + 1}: every field name must be "
                                  "text", field="file")
        rows.append((index + 1, {_key(k): v for k, v in row.items()}))
    return rows


# A cell may hold a plot's GeoJSON of up to 5,000 points (~250 KB; csv's default limit
# is 128 KiB), and no more than the rule geometry_valid would refuse anyway.
CSV_FIELD_LIMIT = 1 << 20


def read_document(path: Path) -> Any:
    """A JSON (``.json``) or YAML file's value, read as strictly as an API body."""
    text = _text(path)
    return _json_rows(path, text) if path.suffix.lower() == ".json" else \
        _yaml_rows(path, text)


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path.name}: cannot read it as UTF-8 text: {exc}",
                              field="file") from exc


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.DictReader(text.splitlines())
    rows = []
    try:
        for row in reader:
            cleaned = {_key(k): (v.strip() if isinstance(v, str) else v)
                       for k, v in row.items() if k is not None}
            rows.append((reader.line_num, {k: v for k, v in cleaned.items() if v != ""}))
    except csv.Error as exc:  # a NUL byte, an unclosed quote at the end
        raise ValidationError(f"{path.name}: line {reader.line_num}: not valid CSV: {exc}",
                              field="file") from exc
    return rows


def _json_rows(path: Path, text: str) -> Any:
    return parse_input_json(text, what=path.name)


YAML_MAX_VALUES = 2_000_000
# libyaml when installed (pure-Python PyYAML takes seconds over a 5,000-point plot).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_rows(path: Path, text: str) -> Any:
    try:
        data = yaml.load(text, Loader=_LOADER)  # a safe loader: no Python objects
    except RecursionError as exc:
        raise ValidationError(f"{path.name}: nested too deep", field="file") from exc
    except (yaml.YAMLError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationError(f"{path.name}:{where} not valid YAML: {problem}",
                              field="file") from exc
    # Aliases are kept (a dump of a ring whose last position is its first writes one),
    # but a few lines of them can name billions of values: so many are refused.
    check_depth(data, what=path.name, max_values=YAML_MAX_VALUES)
    return data


def _key(name: str) -> str:
    return name.strip().replace("-", "_").lower()

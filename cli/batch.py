"""Reading batch files (CSV, JSON, YAML) into rows of input fields, with line numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import yaml

from ledger.errors import ValidationError


def read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) pairs; CSV line numbers count the header as line 1."""
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8-sig")
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        rows = []
        for row in reader:
            cleaned = {_key(k): (v.strip() if isinstance(v, str) else v)
                       for k, v in row.items() if k is not None}
            rows.append((reader.line_num, {k: v for k, v in cleaned.items() if v != ""}))
        return rows
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationError(f"{path.name}: not valid {suffix[1:].upper()}: {exc}",
                              field="file") from exc
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValidationError(f"{path.name}: expected a list of objects", field="file")
    return [(index + 1, {_key(k): v for k, v in row.items()}) for index, row in enumerate(data)]


def _key(name: str) -> str:
    return name.strip().replace("-", "_").lower()

"""One loader for the standards' test vectors copied under fixtures/vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "vectors"


def load_json(relpath: str) -> Any:
    return json.loads((VECTORS / relpath).read_text(encoding="utf-8"))


def files(relpath: str, pattern: str = "*.json") -> list[Path]:
    return sorted((VECTORS / relpath).rglob(pattern))

"""Reading a catalogue file (YAML or JSON); the default is the packaged catalogue."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import yaml

from ledger.domain.catalogue import Product
from ledger.errors import ValidationError
from ledger.wire.products import load_catalogue


def read_catalogue(path: Path | None = None) -> list[Product]:
    if path is None:
        text = resources.files("ledger").joinpath("data/products.yaml").read_text("utf-8")
        suffix = ".yaml"
    else:
        text = path.read_text(encoding="utf-8")
        suffix = path.suffix.lower()
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValidationError(f"catalogue: cannot parse {path or 'products.yaml'}: {exc}",
                              field="catalogue") from exc
    return load_catalogue(data)

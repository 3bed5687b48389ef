"""EUDR commodities: plot geolocation rules at harvest, and the GeoJSON export."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.errors import RuleViolation
from ledger.eudr import export_eudr_geojson
from tests.builders import World, origin

RUBBER = "natural-rubber-cernambi"
POLYGON = {"type": "Polygon", "coordinates": [[[-68.553112, -10.603341],
                                               [-68.541220, -10.602984],
                                               [-68.540876, -10.612450],
                                               [-68.553112, -10.603341]]]}


def test_a_point_is_allowed_only_for_plots_of_four_hectares_or_less(world: World) -> None:
    world.harvest("RB-1", product=RUBBER, origin=origin(area_ha=Decimal("3.9")))
    for area in (Decimal("4.5"), None):
        with pytest.raises(RuleViolation) as caught:
            world.harvest("RB-2", product=RUBBER, origin=origin(area_ha=area))
        assert caught.value.rule == "eudr_point_area"
        assert caught.value.field == "body.origin.geometry"


def test_eudr_polygons_may_not_have_holes(world: World) -> None:
    hole = [[-68.55, -10.605], [-68.545, -10.605], [-68.545, -10.608], [-68.55, -10.605]]
    holed = {"type": "Polygon", "coordinates": [POLYGON["coordinates"][0], hole]}
    with pytest.raises(RuleViolation) as caught:
        world.harvest("RB-3", product=RUBBER, origin=origin(geometry=holed, area_ha=None))
    assert caught.value.rule == "eudr_no_holes"
    world.harvest("RB-4", product=RUBBER, origin=origin(geometry=POLYGON, area_ha=None))


def test_self_crossing_rings_are_refused_at_the_door() -> None:
    from ledger.domain.geo import check_geometry

    bowtie = {"type": "Polygon", "coordinates": [[[0.1, 0.1], [1.1, 1.1], [1.1, 0.1],
                                                   [0.1, 1.1], [0.1, 0.1]]]}
    with pytest.raises(RuleViolation, match="crosses or touches itself") as caught:
        check_geometry(bowtie)
    assert caught.value.rule == "geometry_valid"


def test_the_export_lists_every_plot_behind_a_merged_lot(world: World, db_url: str,
                                                         tmp_path: Path) -> None:
    world.harvest("RB-1", product=RUBBER, origin=origin(area_ha=Decimal("2.8")))
    world.harvest("RB-2", product=RUBBER, origin=origin(geometry=POLYGON, area_ha=Decimal("12.4"),
                                                        plot="colocação Floresta"))
    world.merge(["RB-1", "RB-2"], "RB-M", "200", by="assoc-cachoeira")
    document = export_eudr_geojson(world.ledger, "RB-M")
    assert document["type"] == "FeatureCollection"
    features = {f["properties"]["Lot"]: f for f in document["features"]}
    assert set(features) == {"RB-1", "RB-2"}
    point = features["RB-1"]
    assert point["geometry"] == {"type": "Point", "coordinates": [-68.512345, -10.654321]}
    props = features["RB-2"]["properties"]
    assert (props["ProducerCountry"], props["Area"], props["ProductionStart"],
            props["ProductionEnd"]) == ("BR", "12.4", "2025-01-02", "2025-01-05")
    assert props["Commodity"] == "Hevea brasiliensis"
    out = tmp_path / "plots.geojson"
    result = CliRunner().invoke(cli, ["--db", db_url, "export", "--format", "eudr-geojson",
                                      "--lot", "RB-M", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert json.loads(text)["features"]
    # -68.541220 as a JSON number would lose its last zero; the export keeps six decimals
    assert "-68.541220" in text and "-10.603341" in text
    coordinates = re.findall(r"^\s+(-?\d+\.\d+),?$", text, re.M)
    assert coordinates and all(len(c.split(".")[1]) == 6 for c in coordinates)
    world.harvest("BN-1")
    refused = CliRunner().invoke(cli, ["--db", db_url, "export", "--format", "eudr-geojson",
                                       "--lot", "BN-1"])
    assert refused.exit_code == 3 and "no EUDR commodity" in refused.output

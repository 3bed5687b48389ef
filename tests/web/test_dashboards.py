"""The public indicators page: aggregates only, each figure linked to its entry."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.builders import World
from tests.test_indicators import history


def test_the_public_dashboard_shows_the_indicators(world: World, client: FlaskClient) -> None:
    history(world)
    page = client.get("/dashboards/?lang=pt_BR")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Medição compartilhada" in html
    assert "<svg class=\"chart\"" in html and "Castanha-do-brasil" in html
    assert "/lots/A-1" in html and "/api/v1/entries/" in html
    assert "hv-7f3a9c" not in html  # pseudonyms are counted, not listed
    assert ">2<" in html  # two harvesters reached


def test_the_season_filter_narrows_the_figures(world: World, client: FlaskClient) -> None:
    history(world)
    html = client.get("/dashboards/?season=2019").get_data(as_text=True)
    assert "Castanha-do-brasil" not in html


def test_the_dashboard_draws_the_split_and_share_at_each_sale(world: World,
                                                              client: FlaskClient) -> None:
    history(world)
    html = client.get("/dashboards/?lang=en").get_data(as_text=True)
    # three sale positions, shares as in test_indicators (0.9, 1.598, 1.2995)
    for position, share in ((1, "90 %"), (2, "160 %"), (3, "130 %")):
        assert f"Sale {position}</strong>" in html
        assert f"community share {share}" in html
    assert html.count('<svg class="bar"') >= 3
    assert 'style="' not in html  # the CSP forbids inline styles
    assert "Harvesters 70 %" in html

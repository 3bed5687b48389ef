"""The public indicators page: aggregates only, each figure linked to its entry."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.builders import World
from tests.test_indicators import history
from web.dashboards.views import CHART_DOTS, LISTED_FIRST_SALES, chart_points


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


def test_a_large_ledger_lists_its_latest_first_sales_and_checks_within_a_budget(
        world: World, client: FlaskClient, app: Flask) -> None:
    for n in range(LISTED_FIRST_SALES + 5):
        world.harvest(f"L-{n:03d}", quantity="10")
        world.transfer(f"L-{n:03d}", "assoc-cachoeira", "buyer")
    app.config["VERIFY_BUDGET_S"] = 0.0  # no time to check any history on this view
    html = client.get("/dashboards/?lang=en").get_data(as_text=True)
    assert f"The latest {LISTED_FIRST_SALES} of {LISTED_FIRST_SALES + 5} first sales" in html
    listed = [n for n in range(LISTED_FIRST_SALES + 5) if f'/lots/L-{n:03d}"' in html]
    assert listed == list(range(5, LISTED_FIRST_SALES + 5))  # the latest, in log order
    assert f"{LISTED_FIRST_SALES + 5} lots sold to buyers are not checked yet" in html
    assert "The oldest verdict shown" not in html  # none was reused
    app.config["VERIFY_BUDGET_S"] = 60.0
    html = client.get("/dashboards/?lang=en").get_data(as_text=True)
    assert "not checked yet" not in html
    # Not in a signed checkpoint, the verdicts are kept until one exists: reused now.
    html = client.get("/dashboards/?lang=pt_BR").get_data(as_text=True)
    assert "O veredito mais antigo mostrado aqui foi obtido em 20" in html


def test_the_price_chart_draws_each_days_lowest_sale_when_sales_are_many() -> None:
    def sale(day: int, n: int, price: int) -> dict[str, Any]:
        return {"at": f"2025-01-{day:02d}T10:00:00Z", "reference_min": 366,
                "price_per_unit": price, "lot": f"L-{day}-{n}", "seq": day * 1000 + n}

    few = [sale(1 + n % 28, n, 400) for n in range(CHART_DOTS)]
    assert chart_points(few) == ([(date.fromisoformat(r["at"][:10]), Decimal(40000) / 366, r)
                                  for r in few], False)
    many = [sale(1 + n % 28, n, 400 + (n // 28) % 7) for n in range(CHART_DOTS + 1)]
    many.append(sale(9, 9999, 300))  # one shortfall among hundreds of sales that day
    points, per_day = chart_points(many)
    assert per_day and len(points) == 28
    assert [day.day for day, _, _ in points] == list(range(1, 29))
    assert dict((day.day, row["price_per_unit"]) for day, _, row in points)[9] == 300
    assert all(row["price_per_unit"] == 400 for day, _, row in points if day.day != 9)


def test_a_bad_verify_budget_is_refused_at_start(db_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger.errors import ConfigurationError
    from web import create_app

    for bad in ("soon", "-1", "nan", "inf"):
        monkeypatch.setenv("TRILHA_VERIFY_BUDGET_S", bad)
        with pytest.raises(ConfigurationError, match="TRILHA_VERIFY_BUDGET_S: expected"):
            create_app({"TESTING": True, "DATABASE_URL": db_url})
    monkeypatch.setenv("TRILHA_VERIFY_BUDGET_S", "2.5")
    assert create_app({"TESTING": True, "DATABASE_URL": db_url}).config[
        "VERIFY_BUDGET_S"] == 2.5


def test_each_figure_links_to_the_entries_behind_it_page_by_page(
        world: World, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:

    import web.dashboards.views
    from ledger.indicators import indicators_for

    history(world)
    behind = indicators_for(world.ledger).entries
    html = client.get("/dashboards/?lang=en").get_data(as_text=True)
    for group in ("harvested", "first_sales", "final_sales", "benefits", "processed", "lost"):
        count = len(behind[group])
        noun = "entry" if count == 1 else "entries"
        assert f'href="/dashboards/entries/{group}">{count} {noun} behind this figure' in html
    monkeypatch.setattr(web.dashboards.views, "ENTRY_PAGE", 2)
    listed: list[int] = []
    page, pages = 1, None
    while True:
        text = client.get(f"/dashboards/entries/first_sales?page={page}&lang=en").get_data(
            as_text=True)
        listed += [int(seq) for seq in re.findall(r'href="/api/v1/entries/(\d+)"', text)]
        pages = pages or int(re.search(r"1 / (\d+)", text).group(1))  # type: ignore[union-attr]
        if 'rel="next"' not in text:
            break
        page += 1
    assert listed == behind["first_sales"] and page == pages == 2
    assert client.get("/dashboards/entries/nothing").status_code == 404
    refused = client.get("/dashboards/entries/harvested?page=0")
    assert refused.status_code == 400 and "page: expected a whole number" in refused.get_data(
        as_text=True)
    # The season filter carries over to the entries behind the season's figures.
    none = client.get("/dashboards/entries/harvested?season=2019&lang=en").get_data(True)
    assert "0 entries behind this figure" in none and "/api/v1/entries/" not in none


def test_a_member_sees_the_entries_behind_its_own_figures(world: World,
                                                          client: FlaskClient) -> None:
    from ledger.indicators import Filters, indicators_for
    from tests.web.conftest import log_in

    history(world)
    assert client.get("/workspace/indicators/entries/harvested").status_code == 302  # login
    log_in(client, "member")  # acts for assoc-cachoeira: its own harvest only
    own = indicators_for(world.ledger, Filters(cooperative="assoc-cachoeira")).entries
    html = client.get("/workspace/indicators?lang=en").get_data(as_text=True)
    assert 'href="/workspace/indicators/entries/harvested"' in html
    page = client.get("/workspace/indicators/entries/harvested").get_data(as_text=True)
    assert [f"/api/v1/entries/{seq}" for seq in own["harvested"]] == re.findall(
        r'/api/v1/entries/\d+', page)

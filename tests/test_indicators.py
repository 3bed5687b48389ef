"""Indicators on a small history, against figures worked out by hand in the test."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.domain import events as ev
from ledger.indicators import Filters, Indicators, indicators_for
from tests.builders import World, origin, valuation


def history(world: World) -> None:
    """Two harvests (1000 kg and 500 kg) by two communities, sold, merged, dried, sold on."""
    world.harvest("A-1", quantity="1000", value=valuation(420000))  # R$ 4.20/kg
    world.register("assoc-porto", ev.ActorKind.COMMUNITY, "Associação Porto")
    world.harvest("B-1", by="assoc-porto", quantity="500", value=valuation(150000),  # 3.00/kg
                  origin=origin(community="Porto Alegre do Iaco"))
    world.transfer("A-1", "assoc-cachoeira", "coop", valuation(420000))
    world.transfer("B-1", "assoc-porto", "coop", valuation(150000))
    world.merge(["A-1", "B-1"], "M-1", "1500", by="coop")  # mixed origin
    world.adjust("M-1", "-30", by="coop")  # moisture loss: 1470 kg left
    world.transfer("M-1", "coop", "processor", valuation(735000))
    world.transform(["M-1"], [("K-1", "brazil-nut-kernel", "588")], by="processor")  # 0.40
    world.transfer("K-1", "processor", "buyer", valuation(2940000))


def test_indicators_match_the_hand_computation(world: World) -> None:
    history(world)
    ind = indicators_for(world.ledger)
    assert ind.volumes["harvested"] == {"brazil-nut-in-shell (KGM)": Decimal("1500")}
    assert ind.volumes["sold at first sale"] == {"brazil-nut-in-shell (KGM)": Decimal("1500")}
    assert ind.volumes["lost"] == {"brazil-nut-in-shell (KGM)": Decimal("30")}
    assert ind.volumes["processed"] == {"brazil-nut-in-shell (KGM)": Decimal("1470")}
    assert ind.volumes["sold to buyers"] == {"brazil-nut-kernel (KGM)": Decimal("588")}
    # First sales against PGPMBio's R$ 3.66/kg: A-1 +0.54/kg x 1000 = +54000 centavos;
    # B-1 3.00 - 3.66 = -0.66/kg x 500 = -33000 centavos.
    first = {row["lot"]: row for row in ind.first_sales}
    assert set(first) == {"A-1", "B-1"}
    assert (first["A-1"]["premium_per_unit"], first["A-1"]["premium_total"]) == (
        Decimal("54.00"), 54000)
    assert (first["B-1"]["premium_per_unit"], first["B-1"]["premium_total"]) == (
        Decimal("-66.00"), -33000)
    # Benefits, season 2025, split 70/20/10 of every sale:
    # sales 420000 + 150000 + 735000 + 2940000 = 4245000 -> harvesters 2971500,
    # community fund 849000, cooperative 424500.
    assert ind.benefits["2025"] == {"harvesters BRL": 2971500,
                                    "community_fund BRL": 849000, "cooperative BRL": 424500}
    assert ind.harvesters == 2  # the same two pseudonyms on both harvests
    (yield_row,) = ind.yields
    assert (yield_row["yield"], yield_row["min"], yield_row["max"]) == (
        Decimal("0.4000"), Decimal("0.30"), Decimal("0.45"))
    # Harvest ended 2025-01-05; the buyer received on 2025-01-06: one day.
    assert ind.days_to_final_sale == {"median": 1.0, "p90": 1.0, "lots": 1.0}
    # Community share of the final sale: every sale upstream of K-1 paid 90% to community
    # roles (harvesters 70% + fund 20%) with weight 1 (all of M-1 became K-1):
    # 0.9 x (420000 + 150000 + 735000 + 2940000) / 2940000 = 3820500 / 2940000 = 1.29949
    # -> 1.2995 (every sale of this test pays 90% to community roles, so the ratio passes 1).
    assert ind.farm_gate_share == {"BRL": Decimal("1.2995")}


def test_filters_by_community_and_period(world: World) -> None:
    history(world)
    porto = indicators_for(world.ledger, Filters(community="Porto Alegre do Iaco"))
    assert porto.volumes["harvested"] == {"brazil-nut-in-shell (KGM)": Decimal("500")}
    assert [row["lot"] for row in porto.first_sales] == ["B-1"]
    assert "lost" not in porto.volumes  # the loss was on the mixed-origin merged lot
    nothing = indicators_for(world.ledger, Filters(end=date(2024, 12, 31)))
    assert nothing.volumes == {} and nothing.first_sales == []


def test_every_figure_names_the_entries_behind_it(world: World) -> None:
    history(world)
    ind = indicators_for(world.ledger)
    for seq in ind.entries["harvested"]:
        assert world.ledger.entry(seq).signed.event.kind is ev.EventKind.LOT_HARVESTED
    assert len(ind.entries["final_sales"]) == 2  # the dispatch and its receipt


def test_report_command_table_json_and_csv(world: World, db_url: str) -> None:
    history(world)
    runner = CliRunner()
    human = runner.invoke(cli, ["--db", db_url, "report"])
    assert human.exit_code == 0 and "first sale per unit" in human.stdout
    data = json.loads(runner.invoke(cli, ["--db", db_url, "--json", "report", "--season",
                                          "2025"]).stdout)
    assert data["volumes"]["harvested"] == {"brazil-nut-in-shell (KGM)": "1500"}
    rows = list(csv.reader(io.StringIO(runner.invoke(
        cli, ["--db", db_url, "report", "--csv", "--product", "brazil-nut-in-shell"]).stdout)))
    assert rows[0] == ["indicator", "subject", "value"]
    assert ["distinct harvesters", "", "2"] in rows


def test_households_are_counted_once_and_never_reach_a_public_page(world: World) -> None:
    from ledger.wire.events import dump_event

    world.harvest("BN-1", households=("hh-2b81c0", "hh-77aa01"))
    world.harvest("BN-2", households=("hh-2b81c0",))  # the same family brings a second lot
    world.harvest("BN-3")  # no households recorded: harvesters only
    ind = indicators_for(world.ledger)
    assert ind.households == 2 and ind.harvesters == 2
    old = world.ledger.entry(world.ledger.size() - 1).signed.event
    assert "households" not in json.dumps(dump_event(old))  # absent, not empty: same bytes
    assert world.ledger.verify().ok


def test_a_name_in_households_is_refused_naming_the_field(world: World) -> None:
    import pytest

    from ledger.errors import ValidationError
    from ledger.operations import load_input

    with pytest.raises(ValidationError) as refused:
        load_input("harvest", {"lot": "BN-9", "product": "brazil-nut-in-shell",
                               "quantity": "10", "season": "2025",
                               "harvest_start": "2025-01-01", "harvest_end": "2025-01-02",
                               "community": "C", "territory": "T", "country": "BR",
                               "harvesters": "hv-1234", "households": "Família Souza",
                               "price": "10", "currency": "BRL",
                               "shares": "hv-g:harvesters:100"})
    assert refused.value.field and refused.value.field.startswith("households")
    assert "household reference" in refused.value.message


def test_a_cooperative_sees_the_harvests_that_later_reached_it_and_no_sibling_branch(
        world: World) -> None:
    world.harvest("BN-1", quantity="100")
    world.harvest("BN-2", quantity="40")  # never reaches the cooperative
    world.split("BN-1", {"BN-1A": "60", "BN-1B": "40"}, by="assoc-cachoeira")
    world.transfer("BN-1A", "assoc-cachoeira", "coop")
    world.transfer("BN-1B", "assoc-cachoeira", "processor")  # the sibling goes elsewhere
    coop = indicators_for(world.ledger, Filters(cooperative="coop"))
    # by hand: BN-1 (100 kg) was harvested and later partly reached coop; BN-2 did not
    assert coop.volumes["harvested"] == {"brazil-nut-in-shell (KGM)": Decimal("100")}
    assert coop.harvesters == 2
    assert [row["lot"] for row in coop.first_sales] == ["BN-1A"]  # not the sibling BN-1B
    assert coop.volumes["sold at first sale"] == {"brazil-nut-in-shell (KGM)": Decimal("60")}


def _two_lots_sold_to_the_buyer(world: World) -> Indicators:
    """BN-1 (100 kg) and BN-2 (300 kg) harvested and sold to the buyer; BN-X between."""
    world.harvest("BN-1", quantity="100")
    # the entry after a changed one cannot link to it either: keep BN-2's entries apart
    world.harvest("BN-X", quantity="5")
    world.harvest("BN-2", quantity="300")
    world.transfer("BN-1", "assoc-cachoeira", "buyer")
    world.transfer("BN-2", "assoc-cachoeira", "buyer")
    return indicators_for(world.ledger)


def _change_a_byte_of_the_harvest(world: World, lot: str) -> None:
    """Rewrite the lot's harvest entry behind the ledger's back (its 100 kg become 900)."""
    from sqlalchemy import text

    from tests.test_verification import drop_triggers

    drop_triggers(world.ledger)
    seq = next(s["seq"] for s in world.ledger.provenance(lot, with_entries=False).steps
               if s["kind"] == "lot.harvested")
    body = world.ledger.store.entry(seq).body.replace(b'"100"', b'"900"')
    with world.ledger.store.engine.begin() as connection:
        connection.execute(text("UPDATE entries SET body = :b WHERE seq = :s"),
                           {"b": body, "s": seq})


def test_the_verified_share_of_volume_sold_to_buyers(world: World) -> None:
    from ledger.domain.note import NoteSigner
    from ledger.indicators import verified_share
    from ledger.keystore import generate_private_key

    ind = _two_lots_sold_to_the_buyer(world)
    product = "brazil-nut-in-shell (KGM)"
    before = verified_share(world.ledger, ind)
    assert before.share(product) == Decimal(0)  # nothing is in a signed checkpoint yet
    assert sorted(before.unanchored_lots) == ["BN-1", "BN-2"]
    world.ledger.sign_checkpoint(NoteSigner(world.ledger.origin, generate_private_key()))
    assert verified_share(world.ledger, ind).share(product) == Decimal(1)
    # change one byte of BN-1's harvest behind the ledger's back: its 100 kg drop out
    _change_a_byte_of_the_harvest(world, "BN-1")
    after = verified_share(world.ledger, ind)
    assert after.failed_lots == ["BN-1"]
    assert after.by_product[product] == (Decimal(300), Decimal(400))
    assert after.share(product) == Decimal("0.75")


def test_the_split_and_the_community_share_at_each_sale_along_the_chain(
        world: World) -> None:
    history(world)
    ind = indicators_for(world.ledger)
    # By hand, every sale splits 70/20/10 (harvesters / community fund / cooperative):
    # 1st sales: A-1 420000 + B-1 150000 = 570000; 2nd: M-1 735000; 3rd: K-1 2940000.
    assert ind.split_by_step == {
        1: {"BRL": {"harvesters": 399000, "community_fund": 114000, "cooperative": 57000}},
        2: {"BRL": {"harvesters": 514500, "community_fund": 147000, "cooperative": 73500}},
        3: {"BRL": {"harvesters": 2058000, "community_fund": 588000, "cooperative": 294000}},
    }
    # Community amounts carried to each sale (90% of every sale so far) over its price:
    # 1st: 0.9 x 570000 / 570000 = 0.9; 2nd: (513000 + 661500) / 735000 = 1.59796;
    # 3rd: (1174500 + 2646000) / 2940000 = 1.29949 (the final-sale share above).
    assert ind.share_by_step == {1: {"BRL": Decimal("0.9000")},
                                 2: {"BRL": Decimal("1.5980")},
                                 3: {"BRL": Decimal("1.2995")}}


def test_dashboards_reuse_verdicts_within_a_time_budget(world: World,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    import ledger.lot_check
    from ledger.domain.note import NoteSigner
    from ledger.indicators import verified_share
    from ledger.keystore import generate_private_key

    ind = _two_lots_sold_to_the_buyer(world)
    product = "brazil-nut-in-shell (KGM)"
    checked: list[int] = []
    check = ledger.lot_check.check_lot_history
    monkeypatch.setattr(ledger.lot_check, "check_lot_history",
                        lambda *args: checked.append(1) or check(*args))

    def dashboard(budget_s: float | None = None) -> Any:
        checked.clear()
        return verified_share(world.ledger, ind, reuse=True, budget_s=budget_s)

    # No time at all: nothing is checked, nothing counts as verified, both lots listed.
    none = dashboard(budget_s=0)
    assert sorted(none.unchecked_lots) == ["BN-1", "BN-2"] and not checked
    assert none.by_product[product] == (Decimal(0), Decimal(400))
    # Not yet in a signed checkpoint: checked once, then reused while no newer one exists.
    assert sorted(dashboard().unanchored_lots) == ["BN-1", "BN-2"] and len(checked) == 2
    assert sorted(dashboard().unanchored_lots) == ["BN-1", "BN-2"] and not checked
    world.ledger.sign_checkpoint(NoteSigner(world.ledger.origin, generate_private_key()))
    assert dashboard().share(product) == Decimal(1) and len(checked) == 2
    reused = dashboard()
    assert reused.share(product) == Decimal(1) and not checked and reused.oldest_reused
    # A changed byte: the dashboards keep the verdict, the full re-check catches it and
    # stores it, and from then on the dashboards show it too (re-checking failed lots).
    _change_a_byte_of_the_harvest(world, "BN-1")
    assert dashboard().share(product) == Decimal(1)
    assert verified_share(world.ledger, ind).failed_lots == ["BN-1"]
    after = dashboard()
    assert after.failed_lots == ["BN-1"] and checked == [1]
    assert after.by_product[product] == (Decimal(300), Decimal(400))


def test_many_histories_are_checked_by_worker_processes_with_the_same_verdicts(
        world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    import ledger.indicators
    from ledger.domain.note import NoteSigner
    from ledger.indicators import verified_share
    from ledger.keystore import generate_private_key

    for n in range(12):
        world.harvest(f"P-{n:02d}", quantity="10")
        world.transfer(f"P-{n:02d}", "assoc-cachoeira", "buyer")
    world.ledger.sign_checkpoint(NoteSigner(world.ledger.origin, generate_private_key()))
    world.harvest("P-NEW", quantity="7")  # after the checkpoint: not anchored yet
    world.transfer("P-NEW", "assoc-cachoeira", "buyer")
    ind = indicators_for(world.ledger)
    alone = verified_share(world.ledger, ind)
    monkeypatch.setattr(ledger.indicators, "PARALLEL_FROM", 2)
    monkeypatch.setattr(ledger.indicators, "_CHUNK", 5)
    check = ledger.indicators._check_history

    def noting_the_process(*args: Any) -> Any:
        with (tmp_path / "checked-by").open("a") as out:
            out.write(f"{os.getpid()}\n")
        return check(*args)

    monkeypatch.setattr(ledger.indicators, "_check_history", noting_the_process)
    seen: list[tuple[int, int]] = []
    pooled = verified_share(world.ledger, ind, workers=2,
                            progress=lambda done, total: seen.append((done, total)))
    assert pooled == alone and alone.unanchored_lots == ["P-NEW"]
    assert alone.by_product["brazil-nut-in-shell (KGM)"] == (Decimal(120), Decimal(127))
    assert seen == [(5, 13), (10, 13), (13, 13)]
    checkers = (tmp_path / "checked-by").read_text().split()
    assert len(checkers) == 13 and str(os.getpid()) not in checkers


def test_the_report_table_sums_up_many_first_sales_while_csv_lists_each(
        world: World, db_url: str) -> None:
    from cli.report import LISTED_ROWS

    count = LISTED_ROWS + 1
    for n in range(count):
        world.harvest(f"S-{n:03d}", quantity="100")
        # every third one paid R$ 3.00/kg, under PGPMBio's R$ 3.66/kg: 66 centavos short
        price = 30000 if n % 3 == 0 else 42000
        world.transfer(f"S-{n:03d}", "assoc-cachoeira", "coop", valuation(price))
    runner = CliRunner()
    human = runner.invoke(cli, ["--db", db_url, "report"]).stdout
    assert "first sale per unit" not in human
    shortfalls = len(range(0, count, 3))
    premium = (count - shortfalls) * 54 * 100 - shortfalls * 66 * 100
    # minor units, as the rows of each sale give them: centavos per kg, centavos in total
    assert (f"{count}, {shortfalls} below the minimum; per unit 300.00-420.00; premium "
            f"total {premium}") in human
    rows = list(csv.reader(io.StringIO(runner.invoke(
        cli, ["--db", db_url, "report", "--csv"]).stdout)))
    assert sum(1 for row in rows if row[0] == "first sale per unit") == count


def test_many_yields_are_summed_up_per_transformation_against_the_range() -> None:
    from cli.report import _rows
    from ledger.indicator_facts import YieldSummary

    def item(seq: int, ratio: str | None, low: str = "0.35") -> dict[str, Any]:
        return {"seq": seq, "from": "brazil-nut-in-shell", "to": "brazil-nut-kernel",
                "process": "shelling-drying", "yield": None if ratio is None else Decimal(ratio),
                "min": Decimal(low), "max": Decimal("0.45")}

    summary = YieldSummary()
    # the last one against a catalogue range changed since: outside of its own (0.40-)
    for one in (item(1, "0.38"), item(2, "0.50"), item(3, "0.30"), item(4, None),
                item(5, "0.38", low="0.40")):
        summary.add_yield(one)
    ind = Indicators(detailed=False, yield_summary=list(summary.result()))
    assert [row for row in _rows(ind) if row[0] == "yields"] == [
        ("yields", "brazil-nut-in-shell -> brazil-nut-kernel (shelling-drying)",
         "5: 0.30-0.50 (range 0.35-0.45), 3 outside it")]


def test_days_to_final_sale_are_the_median_and_nearest_rank_p90_of_every_sale() -> None:
    from ledger.indicator_facts import days_summary

    assert days_summary({}) == {"median": None, "p90": None, "lots": 0.0}
    assert days_summary({4: 1}) == {"median": 4.0, "p90": 4.0, "lots": 1.0}
    # 1, 2, 2, 9: median between the middle two; p90 the 4th of 4 (ceil(3.6))
    assert days_summary({9: 1, 2: 2, 1: 1}) == {"median": 2.0, "p90": 9.0, "lots": 4.0}
    # 1..10: median 5.5, p90 the 9th
    assert days_summary(dict.fromkeys(range(1, 11), 1)) == {
        "median": 5.5, "p90": 9.0, "lots": 10.0}

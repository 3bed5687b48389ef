"""Random valid histories verify, whatever order of harvests, transfers, splits and merges."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import RuleViolation
from ledger.service import Ledger
from tests.builders import FakeClock, World, check_tree_matches

ACTORS = ["assoc-cachoeira", "coop", "processor", "buyer"]

actions = st.lists(st.tuples(
    st.sampled_from(["harvest", "transfer", "split", "merge", "adjust", "transform"]),
    st.integers(0, 50), st.integers(0, 3), st.integers(1, 999)), min_size=5, max_size=30)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(plan=actions)
def test_random_valid_histories_verify(plan: list[tuple[str, int, int, int]],
                                       tmp_path_factory: object) -> None:
    tmp = Path(tmp_path_factory.mktemp("hist"))  # type: ignore[attr-defined]
    clock = FakeClock()
    ledger = Ledger.open(f"sqlite:///{tmp / 'l.sqlite'}", clock=clock)
    world = World.with_chain(ledger, clock)
    serial = 0
    for action, pick, who, amount in plan:
        active = ledger.store.lots(status="active", limit=1000)
        serial += 1
        try:
            if action == "harvest" or not active:
                world.harvest(f"H-{serial}", quantity=str(amount))
                continue
            lot = active[pick % len(active)]
            holder = lot.custodian
            if action == "transfer":
                to = ACTORS[who] if ACTORS[who] != holder else ACTORS[(who + 1) % 4]
                world.transfer(lot.lot_id, holder, to)
            elif action == "split" and lot.quantity > 1:
                first = (lot.quantity / 3).quantize(Decimal("0.001"))
                world.split(lot.lot_id, {f"S-{serial}a": str(first),
                                         f"S-{serial}b": str(lot.quantity - first)}, by=holder)
            elif action == "merge":
                same = [x for x in active if x.custodian == holder and x.product == lot.product]
                if len(same) >= 2:
                    total = sum((x.quantity for x in same[:2]), Decimal(0))
                    world.merge([x.lot_id for x in same[:2]], f"M-{serial}", str(total),
                                by=holder)
            elif action == "adjust":
                world.adjust(lot.lot_id, str(-min(lot.quantity, Decimal(amount) / 100)),
                             by=holder)
            elif action == "transform" and lot.product == "brazil-nut-in-shell":
                out = (lot.quantity * Decimal("0.38")).quantize(Decimal("0.001"))
                if out > 0:
                    world.transform([lot.lot_id], [(f"K-{serial}", "brazil-nut-kernel",
                                                    str(out))], by=holder)
        except RuleViolation as exc:  # pragma: no cover - the plan only builds valid events
            raise AssertionError(f"a valid step was refused: {exc.message}") from exc
    report = ledger.verify(workers=1)
    assert report.ok, report.findings[:3]
    assert report.entries == ledger.size()
    check_tree_matches(ledger)
    ledger.close()

"""Every rule accepted, and each of its rejections, through the service on each backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from ledger.domain import events as ev
from ledger.domain.measures import Money, Share, Valuation
from ledger.domain.state import LotStatus
from ledger.errors import ReplayError, RuleViolation, SignatureError
from ledger.service import BatchRejected
from ledger.signing import sign_event
from tests.builders import World, new_signer, valuation


def assert_unchanged(world: World, size: int) -> None:
    assert world.ledger.size() == size


def rejects(world: World, rule: str, action, *args, **kwargs) -> RuleViolation:  # type: ignore[no-untyped-def]
    size = world.ledger.size()
    with pytest.raises(RuleViolation) as caught:
        action(*args, **kwargs)
    assert caught.value.rule == rule, caught.value.message
    assert_unchanged(world, size)
    return caught.value


def test_harvest_creates_a_lot_held_by_the_harvesting_actor(world: World) -> None:
    world.harvest("BN-0001", quantity="412.5")
    lot = world.ledger.lot("BN-0001")
    assert (lot.custodian, lot.quantity, lot.unit, lot.status) == (
        "assoc-cachoeira", Decimal("412.5"), "KGM", LotStatus.ACTIVE)


def test_harvest_must_use_the_products_unit(world: World) -> None:
    error = rejects(world, "unit_matches_product", world.harvest, "BN-0001", unit="LTR")
    assert error.field == "body.quantity.unit" and error.lot == "BN-0001"


def test_harvest_of_unknown_product_is_refused(world: World) -> None:
    rejects(world, "product_known", world.harvest, "BN-0001", product="cupuacu-pulp")


def test_a_lot_code_is_used_once(world: World) -> None:
    world.harvest("BN-0001")
    rejects(world, "lot_unique", world.harvest, "BN-0001")


def test_eudr_commodities_need_geolocation(world: World) -> None:
    from tests.builders import origin

    rejects(world, "eudr_geolocation", world.harvest, "RB-0001", product="natural-rubber-cernambi",
            origin=origin(geometry=None))


def test_split_shares_must_sum_to_100_percent(world: World) -> None:
    bad = Valuation(Money(1000, "BRL"), (Share("a-1", "harvesters", 6000, 600),
                                         Share("b-1", "cooperative", 3000, 400)))
    error = rejects(world, "split_sums_to_100_percent", world.harvest, "BN-0001", value=bad)
    assert "10000" in error.message and "9000" in error.message


def test_split_amounts_must_sum_to_the_price(world: World) -> None:
    bad = Valuation(Money(1000, "BRL"), (Share("a-1", "harvesters", 5000, 500),
                                         Share("b-1", "cooperative", 5000, 499)))
    rejects(world, "split_sums_to_price", world.harvest, "BN-0001", value=bad)


def test_split_amounts_follow_the_largest_remainder_rule(world: World) -> None:
    # 100 at 3333/3333/3334 bp: the rule gives 33/33/34, not 34/33/33.
    bad = Valuation(Money(100, "BRL"), (Share("a-1", "harvesters", 3333, 34),
                                        Share("b-1", "cooperative", 3333, 33),
                                        Share("c-1", "community_fund", 3334, 33)))
    rejects(world, "split_rounding", world.harvest, "BN-0001", value=bad)


def test_custody_changes_only_when_the_receiver_signs_receipt(world: World) -> None:
    world.harvest("BN-0001")
    sent = world.dispatch("BN-0001", "coop", by="assoc-cachoeira")
    lot = world.ledger.lot("BN-0001")
    assert (lot.custodian, lot.status) == ("assoc-cachoeira", LotStatus.IN_TRANSIT)
    world.receive("BN-0001", sent, by="coop")
    lot = world.ledger.lot("BN-0001")
    assert (lot.custodian, lot.status, lot.pending) == ("coop", LotStatus.ACTIVE, None)


def test_only_the_custodian_dispatches(world: World) -> None:
    world.harvest("BN-0001")
    error = rejects(world, "custodian_only", world.dispatch, "BN-0001", "buyer", by="coop")
    assert "expected assoc-cachoeira, got coop" in error.message


def test_only_the_addressee_receives(world: World) -> None:
    world.harvest("BN-0001")
    sent = world.dispatch("BN-0001", "coop", by="assoc-cachoeira")
    rejects(world, "receiver_only", world.receive, "BN-0001", sent, by="buyer")


def test_receipt_must_acknowledge_the_dispatched_price(world: World) -> None:
    world.harvest("BN-0001")
    sent = world.dispatch("BN-0001", "coop", by="assoc-cachoeira", value=valuation(50000))
    rejects(world, "receipt_matches_dispatch", world.receive, "BN-0001", sent, by="coop",
            value=valuation(40000))


def test_a_refused_delivery_returns_to_the_sender(world: World) -> None:
    world.harvest("BN-0001")
    sent = world.dispatch("BN-0001", "coop", by="assoc-cachoeira")
    world.append("coop", ev.LotRefused(ev.LotId("BN-0001"), ev.EventId(sent.event_id),
                                       "moisture above 15%"))
    lot = world.ledger.lot("BN-0001")
    assert (lot.custodian, lot.status) == ("assoc-cachoeira", LotStatus.ACTIVE)


def test_a_lot_in_transit_cannot_be_dispatched_again(world: World) -> None:
    world.harvest("BN-0001")
    world.dispatch("BN-0001", "coop", by="assoc-cachoeira")
    rejects(world, "lot_active", world.dispatch, "BN-0001", "buyer", by="assoc-cachoeira")


def test_split_children_sum_exactly_to_the_parent(world: World) -> None:
    world.harvest("BN-0001", quantity="100")
    rejects(world, "split_conserves_quantity", world.split, "BN-0001",
            {"BN-0001-A": "60", "BN-0001-B": "39.9"}, by="assoc-cachoeira")
    world.split("BN-0001", {"BN-0001-A": "60", "BN-0001-B": "40"}, by="assoc-cachoeira")
    assert world.ledger.lot("BN-0001").status is LotStatus.SPLIT
    assert world.ledger.lot("BN-0001-B").quantity == Decimal("40")


def test_a_split_lot_is_never_spent_twice(world: World) -> None:
    world.harvest("BN-0001", quantity="100")
    world.split("BN-0001", {"BN-0001-A": "60", "BN-0001-B": "40"}, by="assoc-cachoeira")
    rejects(world, "lot_active", world.split, "BN-0001", {"X-1": "50", "X-2": "50"},
            by="assoc-cachoeira")
    rejects(world, "lot_active", world.dispatch, "BN-0001", "coop", by="assoc-cachoeira")


def test_merges_only_of_one_product_and_their_sum(world: World) -> None:
    world.harvest("BN-0001", quantity="100")
    world.harvest("BN-0002", quantity="50.5")
    world.harvest("AC-0001", product="acai-fruit", quantity="30")
    rejects(world, "merge_same_product", world.merge, ["BN-0001", "AC-0001"], "M-1", "130",
            by="assoc-cachoeira")
    rejects(world, "merge_conserves_quantity", world.merge, ["BN-0001", "BN-0002"], "M-1",
            "150", by="assoc-cachoeira")
    world.merge(["BN-0001", "BN-0002"], "M-1", "150.5", by="assoc-cachoeira")
    assert world.ledger.lot("M-1").quantity == Decimal("150.5")
    assert world.ledger.lot("BN-0002").status is LotStatus.MERGED


def test_transformation_yield_must_be_in_the_catalogue_range(world: World) -> None:
    world.harvest("BN-0001", quantity="1000")
    world.transfer("BN-0001", "assoc-cachoeira", "processor")
    error = rejects(world, "yield_out_of_range", world.transform, ["BN-0001"],
                    [("K-0001", "brazil-nut-kernel", "600")], by="processor")
    assert error.lot == "K-0001"
    rejects(world, "transformation_allowed", world.transform, ["BN-0001"],
            [("K-0001", "acai-pulp", "380")], by="processor")
    world.transform(["BN-0001"], [("K-0001", "brazil-nut-kernel", "380")], by="processor")
    assert world.ledger.lot("K-0001").custodian == "processor"
    assert world.ledger.lot("BN-0001").status is LotStatus.TRANSFORMED


def test_losses_are_explicit_adjustments_within_the_lot(world: World) -> None:
    world.harvest("BN-0001", quantity="100")
    rejects(world, "adjustment_is_loss", world.adjust, "BN-0001", "5", by="assoc-cachoeira")
    rejects(world, "adjustment_within_lot", world.adjust, "BN-0001", "-100.5",
            by="assoc-cachoeira")
    world.adjust("BN-0001", "-2.5", by="assoc-cachoeira")
    assert world.ledger.lot("BN-0001").quantity == Decimal("97.5")
    world.adjust("BN-0001", "-97.5", by="assoc-cachoeira")
    assert world.ledger.lot("BN-0001").status is LotStatus.EXHAUSTED


def test_an_event_id_is_accepted_once(world: World) -> None:
    world.harvest("BN-0001")
    signed = world.sign("assoc-cachoeira", ev.LotAdjusted(
        ev.LotId("BN-0001"), Decimal("-1"), ev.AdjustmentReason.LOSS, "rats"))
    world.ledger.append(signed)
    size = world.ledger.size()
    with pytest.raises(ReplayError):
        world.ledger.append(signed)
    assert_unchanged(world, size)


def test_a_signature_by_another_actors_key_is_refused(world: World) -> None:
    world.harvest("BN-0001")
    event = world.sign("coop", ev.LotAdjusted(ev.LotId("BN-0001"), Decimal("-1"),
                                              ev.AdjustmentReason.LOSS, "rats"))
    # The coop signs a statement claiming to be the community that holds the lot.
    claimed = replace(event.event, actor=ev.ActorId("assoc-cachoeira"))
    resigned = sign_event(claimed, (world.signers["coop"],))
    with pytest.raises(SignatureError) as caught:
        world.ledger.append(resigned)
    assert caught.value.rule == "signer_authorised"


def test_a_tampered_signature_is_refused(world: World) -> None:
    world.harvest("BN-0001")
    signed = world.sign("assoc-cachoeira", ev.LotAdjusted(
        ev.LotId("BN-0001"), Decimal("-1"), ev.AdjustmentReason.LOSS, "rats"))
    bad = ev.Signature(signed.signatures[0].public_key,
                       bytes([signed.signatures[0].signature[0] ^ 1])
                       + signed.signatures[0].signature[1:])
    with pytest.raises(SignatureError) as caught:
        world.ledger.append(replace(signed, signatures=(bad,)))
    assert caught.value.rule == "signature_invalid"


def test_a_rotated_key_cannot_sign_later_statements(world: World) -> None:
    world.harvest("BN-0001")
    old = world.signers["assoc-cachoeira"]
    new = new_signer()
    world.append("assoc-cachoeira", ev.KeyRotated(ev.ActorId("assoc-cachoeira"), old.key_id,
                                                  new.public_key_raw), extra=(new,))
    world.signers["assoc-cachoeira"] = old
    with pytest.raises(SignatureError, match="rotated out"):
        world.adjust("BN-0001", "-1", by="assoc-cachoeira")
    # A statement signed offline before the rotation is still accepted.
    early = world.sign("assoc-cachoeira", ev.LotAdjusted(
        ev.LotId("BN-0001"), Decimal("-1"), ev.AdjustmentReason.LOSS, "rats"),
        at=world.clock.now - timedelta(seconds=5))
    world.ledger.append(early)
    world.signers["assoc-cachoeira"] = new
    world.adjust("BN-0001", "-1", by="assoc-cachoeira")


def test_a_revoked_key_signs_nothing_more(world: World) -> None:
    world.harvest("BN-0001")
    key = world.signers["coop"].key_id
    world.append("operator", ev.KeyRevoked(ev.ActorId("coop"), key, "laptop stolen"))
    with pytest.raises(SignatureError, match="revoked"):
        world.harvest("BN-0002", by="coop")


def test_only_an_operator_registers_actors(world: World) -> None:
    signer = new_signer()
    body = ev.ActorRegistered(ev.ActorId("intruder"), ev.ActorKind.TRADER, "X", None,
                              signer.public_key_raw)
    with pytest.raises(RuleViolation) as caught:
        world.append("coop", body, extra=(signer,))
    assert caught.value.rule == "operator_only"


def test_registration_needs_proof_of_possession_of_the_new_key(world: World) -> None:
    signer = new_signer()
    body = ev.ActorRegistered(ev.ActorId("trader-1"), ev.ActorKind.TRADER, "X", None,
                              signer.public_key_raw)
    with pytest.raises(SignatureError) as caught:
        world.append("operator", body)
    assert caught.value.rule == "proof_of_possession"


def test_small_order_public_keys_are_refused_at_registration(world: World) -> None:
    signer = new_signer()
    identity = bytes([1]) + bytes(31)  # the neutral point: small order
    body = ev.ActorRegistered(ev.ActorId("trader-1"), ev.ActorKind.TRADER, "X", None, identity)
    size = world.ledger.size()
    with pytest.raises(Exception):  # noqa: B017 - encoding or signature error, both refuse
        world.append("operator", body, extra=(signer,))
    assert_unchanged(world, size)


def test_a_statement_dated_in_the_future_is_refused(world: World) -> None:
    with pytest.raises(RuleViolation) as caught:
        world.harvest("BN-0001", at=world.clock.now + timedelta(hours=1))
    assert caught.value.rule == "statement_in_future"


def test_a_batch_with_bad_events_appends_nothing_and_reports_each(world: World) -> None:
    world.harvest("BN-0001", quantity="100")
    size = world.ledger.size()
    good = world.sign("assoc-cachoeira", ev.LotAdjusted(ev.LotId("BN-0001"), Decimal("-1"),
                                                         ev.AdjustmentReason.LOSS, "a"))
    bad1 = world.sign("coop", ev.LotAdjusted(ev.LotId("BN-0001"), Decimal("-1"),
                                              ev.AdjustmentReason.LOSS, "b"))
    bad2 = world.sign("assoc-cachoeira", ev.LotAdjusted(ev.LotId("NOPE"), Decimal("-1"),
                                                         ev.AdjustmentReason.LOSS, "c"))
    with pytest.raises(BatchRejected) as caught:
        world.ledger.append_many([good, bad1, bad2])
    assert [i for i, _ in caught.value.failures] == [1, 2]
    assert_unchanged(world, size)
    assert world.ledger.lot("BN-0001").quantity == Decimal("100")


def test_a_product_is_registered_once(world: World) -> None:
    from ledger.catalogue_file import read_catalogue

    again = world.sign("operator", ev.ProductRegistered(read_catalogue()[0]))
    size = world.ledger.size()
    with pytest.raises(RuleViolation) as caught:
        world.ledger.append(again)
    assert caught.value.rule == "product_unique" and caught.value.field == "body.product.code"
    assert world.ledger.size() == size


def test_outputs_of_one_product_share_its_yield_range(world: World) -> None:
    world.harvest("BN-0001", quantity="600")
    # 270 kg each is at the top of 0.30-0.45 of 600 kg; together 540 kg would be 0.90
    with pytest.raises(RuleViolation) as caught:
        world.transform(["BN-0001"], [("K-1", "brazil-nut-kernel", "270"),
                                      ("K-2", "brazil-nut-kernel", "270")],
                        by="assoc-cachoeira")
    assert caught.value.rule == "yield_out_of_range" and caught.value.lot == "K-2"
    # 120 kg each is below the range alone, 240 kg (0.40) together is within it
    world.transform(["BN-0001"], [("K-1", "brazil-nut-kernel", "120"),
                                  ("K-2", "brazil-nut-kernel", "120")], by="assoc-cachoeira")
    assert world.ledger.lot("K-2").quantity == Decimal("120")

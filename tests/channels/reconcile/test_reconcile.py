"""Reconcile against the simulator over HTTP: drift of each tier, record first and act
second, pending pushes, resolving by itself, resume, dry run, the command."""

import pytest
from django.core.management import call_command

from channels.models import (
    ChannelAudit,
    Drift,
    DriftStatus,
    Listing,
    OutboxEntry,
    OutboxStatus,
    ReconcileRun,
)
from channels.reconcile.decisions import auto_fix_allowed
from channels.reconcile.investigate import Verdict
from ledger.models import StockLevel
from ledger.services import stock_adjust

from .conftest import drain, reconcile, stocked

pytestmark = pytest.mark.django_db


class Fixed:
    """An investigator with a fixed confidence, to test the hub's gate."""

    name = "fixed"

    def __init__(self, confidence: float) -> None:
        self.confidence = confidence

    def investigate(self, evidence: dict) -> Verdict:
        return Verdict(True, self.confidence, f"fixed at {self.confidence}", self.name)


def synced(connect, sim, kind="sandbox", slug="shop", **levels):
    skus = {code: stocked(code, quantity) for code, quantity in levels.items()}
    channel = connect(kind, slug, levels)
    drain(channel)
    assert sim.levels(slug) == levels
    assert set(Listing.objects.filter(channel=channel).values_list("state", flat=True)) == {
        "in_sync"
    }
    return channel, skus


def test_injected_drift_of_each_tier_is_recorded_then_escalated(connect, sim):
    channel, _ = synced(connect, sim, MINOR=20, MAJOR=20, CRIT=20, SAME=20)
    sim.set_levels("shop", {"MINOR": 19, "MAJOR": 14, "CRIT": 5})

    run = reconcile(channel)

    assert (run.status, run.listings_checked, run.drift_found) == ("finished", 4, 3)
    rows = {d.sku.code: d for d in Drift.objects.filter(run=run)}
    assert {code: d.severity for code, d in rows.items()} == {
        "MINOR": "minor",
        "MAJOR": "major",
        "CRIT": "critical",
    }
    for drift in rows.values():
        # Nothing the hub knows explains a change behind its back: a person decides.
        assert drift.status == DriftStatus.ESCALATED
        assert drift.hub_quantity == 20
        assert "Nothing the hub knows explains it" in drift.reasoning
        assert drift.evidence["investigator"] == "rules"
    assert rows["MAJOR"].delta == -6
    assert run.escalated == 3 and run.auto_corrected == 0
    assert not OutboxEntry.objects.filter(status=OutboxStatus.PENDING).exists()
    channel.refresh_from_db()
    assert channel.last_reconciled_at is not None

    again = reconcile(channel)  # the same disagreement: never recorded twice
    assert again.drift_found == 0
    assert Drift.objects.count() == 3


def test_drift_that_disappears_by_itself_is_resolved_with_the_reason(connect, sim):
    channel, _ = synced(connect, sim, LATE=10)
    sim.set_levels("shop", {"LATE": 7})
    reconcile(channel)
    drift = Drift.objects.get()
    assert drift.status == DriftStatus.ESCALATED

    sim.set_levels("shop", {"LATE": 10})  # the late webhook / push landed
    run = reconcile(channel)

    drift.refresh_from_db()
    assert drift.status == DriftStatus.RESOLVED
    assert "shows the hub's 10 again" in drift.decision_note
    assert run.drift_resolved == 1


@pytest.mark.parametrize(
    ("confidence", "delta", "allowed"),
    [(0.85, 5, True), (0.84, 5, False), (0.85, 6, False), (0.85, -5, True), (0.99, -6, False)],
)
def test_the_auto_fix_gate_boundaries(confidence, delta, allowed):
    assert auto_fix_allowed(confidence=confidence, delta=delta) is allowed


@pytest.mark.parametrize(
    ("confidence", "shown", "status"),
    [
        (0.85, 15, DriftStatus.AUTO_CORRECTED),  # |delta| 5
        (0.85, 14, DriftStatus.ESCALATED),  # |delta| 6
        (0.84, 15, DriftStatus.ESCALATED),
    ],
)
def test_the_gate_on_injected_drift(connect, sim, confidence, shown, status):
    channel, skus = synced(connect, sim, GATE=20)
    sim.set_levels("shop", {"GATE": shown})

    reconcile(channel, investigator=Fixed(confidence))

    drift = Drift.objects.get()
    assert drift.status == status
    queued = OutboxEntry.objects.filter(status=OutboxStatus.PENDING)
    if status == DriftStatus.AUTO_CORRECTED:
        # The ledger wins: the hub's number is pushed again; the ledger is untouched.
        assert list(queued.values_list("quantity", flat=True)) == [20]
        drain(channel)
        assert sim.levels("shop") == {"GATE": 20}
    else:
        assert not queued.exists()
        assert sim.levels("shop") == {"GATE": shown}
    assert StockLevel.objects.get(sku=skus["GATE"]).on_hand == 20
    assert ChannelAudit.objects.filter(kind="drift", data__drift_id=drift.pk).exists()


def test_an_echo_of_our_own_push_is_understood_and_auto_corrected(connect, sim):
    channel, skus = synced(connect, sim, ECHO=10)
    stock_adjust(sku=skus["ECHO"], quantity=-2)
    drain(channel)
    assert sim.levels("shop") == {"ECHO": 8}
    sim.set_levels("shop", {"ECHO": 10})  # the channel rolled our write back

    run = reconcile(channel)

    drift = Drift.objects.get()
    assert drift.status == DriftStatus.AUTO_CORRECTED, drift.reasoning
    assert float(drift.confidence) >= 0.85
    assert "a number the hub itself pushed" in drift.reasoning
    assert run.auto_corrected == 1
    drain(channel)
    assert sim.levels("shop") == {"ECHO": 8}


def test_a_push_in_flight_is_pending_not_drift(connect, sim):
    channel, skus = synced(connect, sim, FLY=10)
    stock_adjust(sku=skus["FLY"], quantity=-3)  # queued, not yet pushed

    run = reconcile(channel)

    assert (run.pending_skipped, run.drift_found) == (1, 0)
    assert not Drift.objects.exists()


def test_a_run_that_died_halfway_resumes_after_its_cursor(connect, sim, settings):
    settings.RECONCILE_BATCH_SIZE = 2
    channel, _ = synced(connect, sim, R1=5, R2=5, R3=5, R4=5, R5=5)
    sim.set_levels("shop", {"R1": 1, "R5": 1})
    ids = list(Listing.objects.filter(channel=channel).order_by("pk").values_list("pk", flat=True))
    # A worker died after the first batch (R1, R2): its run is still "running".
    dead = ReconcileRun.objects.create(channel=channel, cursor=ids[1], listings_checked=2)

    run = reconcile(channel)

    assert run.pk == dead.pk and run.resumed == 1
    assert (run.status, run.listings_checked) == ("finished", 5)
    assert list(Drift.objects.values_list("sku__code", flat=True)) == ["R5"]


def test_dry_run_command_records_no_drift(connect, sim, capsys):
    channel, _ = synced(connect, sim, DRY=9)
    sim.set_levels("shop", {"DRY": 3})

    call_command("reconcile", "--channel", channel.slug, "--dry-run")

    assert "[dry run] shop" in capsys.readouterr().out
    assert not Drift.objects.exists()
    call_command("reconcile", "--channel", channel.slug)
    assert Drift.objects.get().status == DriftStatus.ESCALATED

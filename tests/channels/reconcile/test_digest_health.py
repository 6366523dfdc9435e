"""The daily digest (a clean day, a bad day) and /healthz turning degraded when the
reconcile loop or the digest goes silent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from channels.models import Channel, Digest, OutboxEntry, OutboxStatus
from channels.reconcile.digest import digest_send, digest_send_due
from channels.reconcile.runs import reconcile_due

from .conftest import drain, reconcile, stocked

pytestmark = pytest.mark.django_db


def test_the_digest_on_a_clean_day_says_all_clear(connect, sim, mailoutbox, settings):
    settings.DIGEST_RECIPIENTS = ["ops@example.com"]
    stocked("CLEAN", 4)
    channel = connect("sandbox", "shop", {"CLEAN": 4})
    drain(channel)
    reconcile(channel)

    digest = digest_send()

    assert digest.all_clear
    [mail] = mailoutbox
    assert mail.subject.endswith(": All clear")
    assert mail.to == ["ops@example.com"]
    assert "SKUs checked:                1" in mail.body
    assert "Propagation p95:" in mail.body
    assert digest_send() is None  # once a day
    assert len(mailoutbox) == 1


def test_the_digest_on_a_bad_day_names_what_needs_a_person(connect, sim, mailoutbox):
    stocked("BAD", 30)
    channel = connect("sandbox", "shop", {"BAD": 30})
    drain(channel)
    sim.set_levels("shop", {"BAD": 3})
    reconcile(channel)
    OutboxEntry.objects.update(status=OutboxStatus.DEAD)

    digest = digest_send()

    assert not digest.all_clear
    [mail] = mailoutbox
    assert "need a person" in mail.subject
    assert "1 drift record(s) to decide" in mail.body
    assert "dead-letter queue" in mail.body
    assert digest.data["escalated"] == 1 and digest.data["drift_opened"] == 1


def test_the_digest_goes_out_from_its_hour(settings, mailoutbox):
    settings.DIGEST_HOUR = 7
    early = timezone.now().replace(hour=6, minute=0)
    assert digest_send_due(now=early) is None
    assert digest_send_due(now=early.replace(hour=7, minute=5)) is not None
    assert len(mailoutbox) == 1


def test_healthz_is_degraded_when_beat_stops(client, connect, sim, settings):
    settings.DIGEST_HOUR = 0
    stocked("HB", 1)
    channel = connect("sandbox", "shop", {"HB": 1})
    drain(channel)
    reconcile(channel)
    digest_send()
    ok = client.get("/healthz")
    assert ok.status_code == 200, ok.json()
    assert ok.json()["status"] == "ok"
    assert ok.json()["last_reconcile_at"] and ok.json()["last_digest_at"]

    # Beat stopped: the last reconcile is older than twice the channel's interval.
    Channel.objects.update(last_reconciled_at=timezone.now() - timedelta(hours=2, minutes=1))
    stale = client.get("/healthz")
    assert stale.status_code == 503
    assert stale.json()["status"] == "degraded"
    assert stale.json()["reasons"] == ["reconcile_overdue"]

    # And yesterday's digest never went out either (the hub existed by then).
    Channel.objects.update(created_at=timezone.now() - timedelta(days=3))
    Digest.objects.update(day=timezone.now().date() - timedelta(days=2))
    both = client.get("/healthz").json()
    assert both["reasons"] == ["digest_missed", "reconcile_overdue"]


def test_beat_enqueues_what_is_due(connect, sim, monkeypatch):
    published = []
    monkeypatch.setattr(
        "channels.reconcile.runs.enqueue", lambda task, *args: published.append((task, args))
    )
    stocked("DUE", 1)
    channel = connect("sandbox", "shop", {"DUE": 1})
    assert reconcile_due() == [channel.pk]
    reconcile(channel)  # the daily full pass, just done
    assert reconcile_due() == []
    later = timezone.now() + timedelta(minutes=61)
    assert reconcile_due(now=later) == [channel.pk]
    assert published[0] == ("channels.tasks.reconcile_channel", (channel.pk,))

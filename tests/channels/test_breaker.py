"""The circuit breaker: opens on sustained failure, half-opens, closes on success."""

import pytest

from channels.propagation import breaker


@pytest.fixture(autouse=True)
def clean():
    breaker.reset("shop")
    yield
    breaker.reset("shop")


def test_opens_at_70_percent_failures_over_at_least_10_calls(monkeypatch):
    for _ in range(3):
        breaker.record("shop", ok=True)
    for _ in range(6):
        breaker.record("shop", ok=False)
    assert breaker.state("shop").state == "closed"  # 9 calls: too few to judge
    assert breaker.record("shop", ok=False).state == "open"  # 7 of 10 failed
    assert not breaker.allows("shop")


def test_stays_closed_below_the_ratio():
    for index in range(20):
        breaker.record("shop", ok=index % 2 == 0)
    assert breaker.allows("shop")


def test_half_opens_after_the_cool_down_and_a_success_closes_it(monkeypatch):
    for _ in range(10):
        breaker.record("shop", ok=False)
    assert breaker.state("shop").state == "open"
    real_time = breaker.time.time
    monkeypatch.setattr(breaker.time, "time", lambda: real_time() + breaker.OPEN_SECONDS + 1)
    assert breaker.state("shop").state == "half_open"
    assert breaker.allows("shop")
    assert breaker.record("shop", ok=True).state == "closed"
    assert breaker.allows("shop")


def test_a_failed_trial_opens_it_again(monkeypatch):
    for _ in range(10):
        breaker.record("shop", ok=False)
    real_time = breaker.time.time
    monkeypatch.setattr(breaker.time, "time", lambda: real_time() + breaker.OPEN_SECONDS + 1)
    assert breaker.record("shop", ok=False).state == "open"
    assert not breaker.allows("shop")

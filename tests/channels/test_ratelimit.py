"""The per-channel token bucket takes a request's cost, all or none, in Redis (one Lua
script) and in the embedded in-process fallback alike."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.test.utils import override_settings

from foundation import ratelimit

# Refill so slow that it never matters within a test.
STILL = 0.001


@pytest.fixture(params=["redis", "embedded"])
def backend(request):
    if request.param == "redis":
        if not settings.REDIS_URL:
            pytest.skip("needs Redis (run through scripts/services.py)")
        yield request.param
        return
    with override_settings(REDIS_URL=""):
        yield request.param


def level(slug: str, *, burst: int) -> float:
    """What the bucket holds: asking for all of it answers the wait for the shortfall."""
    return burst - ratelimit.take(slug, rate=STILL, burst=burst, tokens=burst) * STILL


def test_a_cost_takes_that_many_tokens(backend):
    assert ratelimit.take("costly", rate=STILL, burst=100, tokens=10) == 0
    assert ratelimit.take("costly", rate=STILL, burst=100, tokens=51) == 0

    assert level("costly", burst=100) == pytest.approx(39, abs=0.01)


def test_a_cost_the_bucket_cannot_cover_takes_nothing_and_answers_the_wait(backend):
    assert ratelimit.take("short", rate=100, burst=900, tokens=800) == 0

    wait = ratelimit.take("short", rate=100, burst=900, tokens=501)

    # 100 left, 401 missing at 100 a second.
    assert wait == pytest.approx(4.01, abs=0.05)
    assert ratelimit.take("short", rate=100, burst=900, tokens=100) == 0


def test_concurrent_costs_never_overspend_the_bucket(backend):
    def attempt(_: int) -> bool:
        return ratelimit.take("contended", rate=STILL, burst=30, tokens=4) == 0

    with ThreadPoolExecutor(max_workers=8) as pool:
        granted = sum(pool.map(attempt, range(40)))

    assert granted == 7  # 28 of 30 tokens; an eighth would overspend
    assert level("contended", burst=30) == pytest.approx(2, abs=0.01)


def test_a_cost_above_the_whole_bucket_is_an_error_not_an_endless_wait(backend):
    with pytest.raises(ValueError, match="cannot take 501 tokens from a bucket of 500"):
        ratelimit.take("small", rate=100, burst=500, tokens=501)


def test_wait_for_tells_when_tokens_are_there_without_taking_any(backend):
    slug = f"peek-{backend}-{time.time_ns()}"
    assert ratelimit.wait_for(slug, rate=10, burst=5, tokens=5) == 0
    assert ratelimit.take(slug, rate=10, burst=5, tokens=5) == 0  # peeking took nothing
    assert 0.2 < ratelimit.wait_for(slug, rate=10, burst=5, tokens=3) <= 0.3
    assert ratelimit.wait_for(slug, rate=10, burst=5, tokens=50) <= 0.5  # capped at the bucket

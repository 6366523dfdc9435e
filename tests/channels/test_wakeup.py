"""Wake-up flags fold a burst of commits into one task, and a channel whose drainer is at
work (it holds the drain lease) gets no task at all: the holder looks at its flag again
before it lets go."""

import pytest
from django.conf import settings
from django.db import transaction
from django.test.utils import override_settings

from channels.propagation import wake
from channels.propagation.wake import (
    drain_flag_clear,
    drain_flag_raised,
    drain_lease_key,
    request_drain,
)
from channels.wakeup import flags_raise, lease_release, lease_take


@pytest.fixture
def redis_only():
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (run through scripts/services.py)")


@pytest.fixture
def published(monkeypatch):
    """The drain tasks `request_drain` publishes, by channel id."""
    sent: list[int] = []
    monkeypatch.setattr(wake, "enqueue", lambda task, channel_id: sent.append(channel_id))
    return sent


def test_only_the_call_that_raises_a_flag_publishes(redis_only):
    assert flags_raise(["test-wake:f1", "test-wake:f2"]) == [0, 1]
    assert flags_raise(["test-wake:f2", "test-wake:f3"]) == [1]


def test_a_held_lease_keeps_its_flag_raised_but_wakes_nobody(redis_only):
    held = lease_take("test-wake:lease1", 10_000)
    assert flags_raise(
        ["test-wake:f1", "test-wake:f2"], unless_held=[["test-wake:lease1"], ["test-wake:lease2"]]
    ) == [1]
    assert flags_raise(["test-wake:f1"], unless_held=[["test-wake:lease1"]]) == []  # raised already
    # The holder sees the flag when it looks again after letting go.
    lease_release(held)
    assert flags_raise(["test-wake:f9"], unless_held=[["test-wake:lease1"]]) == [0]


def test_without_redis_every_flag_wakes_a_task():
    with override_settings(REDIS_URL=""):
        assert flags_raise(
            ["test-wake:f1", "test-wake:f2"],
            unless_held=[["test-wake:lease1"], ["test-wake:lease2"]],
        ) == [0, 1]


@pytest.mark.django_db(transaction=True)
def test_a_commit_publishes_no_drain_for_a_channel_being_drained(redis_only, published):
    held = lease_take(drain_lease_key(7), 10_000)
    with transaction.atomic():
        request_drain([7, 8])
    assert published == [8]
    assert drain_flag_raised(7)  # the drainer of channel 7 claims again before it stops
    drain_flag_clear(8)
    lease_release(held)
    with transaction.atomic():
        request_drain([7, 8])
    assert published == [8, 8]  # 7's flag is still raised: its drainer is to look again


def test_under_concurrent_commits_no_work_is_left_behind(redis_only):
    """Committers add work and raise the flag; a task runs only when a raise found the
    lease free; a holder takes the work until none is left, finishes up, lets go, then
    looks at the flag. Round after round, a burst of commits ends with nothing waiting
    and no sweeper: the commits that landed while a holder was finishing are taken."""
    import random
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor, wait

    from channels.wakeup import flag_clear, flag_is_raised

    flag, lease_key = "test-wake:work", "test-wake:worker"
    waiting: list[int] = []
    taken: list[int] = []
    lock = threading.Lock()
    published = []

    def task():
        while (lease := lease_take(lease_key, 10_000)) is not None:
            try:
                flag_clear(flag)
                while True:
                    with lock:
                        batch, waiting[:] = list(waiting), []
                    if not batch:
                        break
                    taken.extend(batch)
                time.sleep(0.005)  # finishing up: commits keep landing meanwhile
            finally:
                lease_release(lease)
            if not flag_is_raised(flag):
                return

    def commit(item: int):
        time.sleep(random.random() / 100)
        with lock:
            waiting.append(item)  # committed before the flag goes up
        if flags_raise([flag], unless_held=[[lease_key]]):
            published.append(tasks.submit(task))

    with ThreadPoolExecutor(max_workers=4) as tasks, ThreadPoolExecutor(8) as committers:
        for round_ in range(15):
            items = range(round_ * 40, round_ * 40 + 40)
            list(committers.map(commit, items))
            wait(published, timeout=5)
            with lock:
                assert waiting == [], f"round {round_}: left behind {waiting}"
    assert sorted(taken) == list(range(15 * 40))
    assert len(published) < 15 * 40  # most commits found a worker at it

"""Properties of the published-quantity function (`channels.allocation`)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from channels.allocation import Rule, published_quantity

percent = st.decimals(min_value=0, max_value=100, places=2)
rules = st.builds(
    Rule,
    mode=st.sampled_from(["pool", "share", "fixed"]),
    share_percent=percent,
    fixed_quantity=st.integers(0, 10_000),
    buffer_units=st.integers(0, 500),
    buffer_percent=percent,
)
available = st.integers(-1_000, 1_000_000)


@given(available, rules)
def test_never_negative_and_never_above_available(stock, rule):
    published = published_quantity(stock, rule)
    assert 0 <= published <= max(stock, 0)


@given(available, rules)
def test_buffers_are_respected(stock, rule):
    unbuffered = published_quantity(stock, Rule(rule.mode, rule.share_percent, rule.fixed_quantity))
    published = published_quantity(stock, rule)
    assert published <= max(0, unbuffered - rule.buffer_units)


@given(available, st.integers(0, 1000), rules)
def test_monotonic_in_available(stock, more, rule):
    assert published_quantity(stock, rule) <= published_quantity(stock + more, rule)


@given(available, st.lists(percent, min_size=1, max_size=6))
def test_shares_that_partition_never_publish_more_than_available(stock, shares):
    total = sum(shares)
    if total > 100:
        shares = [share * 100 / total for share in shares]
        shares = [share.quantize(Decimal("0.01"), rounding="ROUND_DOWN") for share in shares]
    published = [published_quantity(stock, Rule(mode="share", share_percent=s)) for s in shares]
    assert sum(published) <= max(stock, 0)


def test_examples_from_the_design():
    assert published_quantity(10, Rule()) == 10
    assert published_quantity(-3, Rule()) == 0
    assert published_quantity(10, Rule(mode="share", share_percent=Decimal(33))) == 3
    assert published_quantity(10, Rule(mode="fixed", fixed_quantity=4)) == 4
    assert published_quantity(3, Rule(mode="fixed", fixed_quantity=4)) == 3
    assert published_quantity(100, Rule(buffer_units=2, buffer_percent=Decimal(10))) == 88
    assert published_quantity(1, Rule(buffer_units=2)) == 0

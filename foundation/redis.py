"""The process's Redis connection for flow control: token buckets, circuit breakers,
revision budgets, wake-up flags and leases. None of it is the truth (PostgreSQL is): every
user of this connection has a fallback for when Redis is absent or down."""

from __future__ import annotations

from functools import cache

from django.conf import settings


@cache
def redis_client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)

"""Propagation: the outbox rows written with each stock change (`outbox`), the drainer
that pushes and reads back (`drain`), the dead-letter queue's actions (`dlq`), the
drain's wake-up keys (`wake`), the circuit breaker (`breaker`) and eBay's revision
budget (`revisions`)."""

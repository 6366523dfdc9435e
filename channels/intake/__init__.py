"""Webhook intake: the view that verifies and stores a delivery (`views`, `verify`), the
inbox that applies deliveries in batches (`inbox`), the order-line state machine
(`orders`), the intake worker's wake-up keys (`wake`) and Amazon's SQS poller."""

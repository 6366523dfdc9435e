"""Sales channels, what they list, how much each may sell, and what we owe them (outbox).

Rows are written only through `channels.services` and `channels.outbox`.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from foundation.crypto import EncryptedJSONField, EncryptedTextField
from ledger.models import Location, Sku


class ChannelKind(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"
    AMAZON = "amazon", "Amazon"
    EBAY = "ebay", "eBay"
    STANDARD = "standard", "Custom storefront (Standard Webhooks)"
    SANDBOX = "sandbox", "Sandbox (channel simulator)"


def kind_defaults(kind: str) -> dict:
    """Capabilities a channel of this kind starts with: its adapter's (the limits each
    adapter module documents). A channel may lower them in its settings."""
    from .adapters.base import adapter_class

    adapter = adapter_class(kind)
    return {
        # Amazon's feed path takes up to 10,000; a thousand keeps one claim's work (feed
        # plus read-back) well inside its lease.
        "batch_size": min(adapter.max_batch, 1000),
        "compare_and_set": adapter.supports_compare_and_set,
        "rate": adapter.rate_per_second,
        "burst": adapter.burst,
    }


class Channel(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    webhook_secret = EncryptedTextField(blank=True, default="")
    previous_webhook_secret = EncryptedTextField(
        blank=True, default="", help_text="Still accepted during a secret rotation."
    )
    settings = models.JSONField(default=dict, blank=True, help_text="base_url and kind options.")
    batch_size = models.PositiveIntegerField(default=100)
    compare_and_set = models.BooleanField(default=False)
    rate_limit_per_second = models.FloatField(
        default=10.0,
        help_text="The channel's sustained budget: requests per second; for Shopify, "
        "GraphQL query-cost points per second (100 on the Standard plan, raise it for a "
        "bigger plan).",
    )
    rate_limit_burst = models.PositiveIntegerField(
        default=20,
        help_text="Most spent at once: requests; for Shopify, query-cost points (1000).",
    )
    reconcile_interval_minutes = models.PositiveIntegerField(
        default=60, help_text="How often the hub reads the channel's quantities back."
    )
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    fulfilment_locations = models.ManyToManyField(
        Location, through="ChannelLocation", related_name="channels", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Changes with every save: the intake's per-process cache of decrypted secrets is
    # keyed by it (channels/intake/verify.py), so a rotated secret applies at once.
    updated_at = models.DateTimeField(auto_now=True)
    # What the merchant must do before the channel takes pushes again, in words ("eBay
    # refresh token revoked: reconnect the account"), and since when; "" when nothing.
    # Written by an UPDATE (channels.propagation.attention), never by save(): it is no
    # change of the channel's own, so `updated_at` stays.
    needs_action = models.TextField(blank=True, default="")
    needs_action_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [
            (
                "manage_channel_endpoints",
                "Can change where a channel sends requests and with which credentials and secrets",
            )
        ]
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class ChannelLocation(models.Model):
    """A location whose available stock this channel may sell, in priority order."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE)
    location = models.ForeignKey(Location, on_delete=models.PROTECT)
    priority = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "location"], name="channel_location_once")
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} sells from {self.location_id} (priority {self.priority})"


class AllocationMode(models.TextChoices):
    POOL = "pool", "Pool: everything available"
    SHARE = "share", "Share: a percentage of available"
    FIXED = "fixed", "Fixed: at most N units"


PERCENT = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))]


class AllocationRule(models.Model):
    """The channel's default rule (sku is null) or an override for one SKU."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="rules")
    sku = models.ForeignKey(
        Sku, null=True, blank=True, on_delete=models.CASCADE, related_name="allocation_rules"
    )
    mode = models.CharField(
        max_length=10, choices=AllocationMode.choices, default=AllocationMode.POOL
    )
    share_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal(100), validators=PERCENT
    )
    fixed_quantity = models.PositiveIntegerField(default=0)
    buffer_units = models.PositiveIntegerField(default=0)
    buffer_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal(0), validators=PERCENT
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "sku"], name="one_rule_per_channel_sku"),
            models.UniqueConstraint(
                fields=["channel"], condition=Q(sku__isnull=True), name="one_default_rule"
            ),
            models.CheckConstraint(
                condition=Q(share_percent__gte=0, share_percent__lte=100)
                & Q(buffer_percent__gte=0, buffer_percent__lte=100),
                name="rule_percent_range",
            ),
        ]

    def __str__(self) -> str:
        scope = self.sku.code if self.sku_id else "default"
        return f"{self.channel.slug} {scope}: {self.mode}"


class ListingState(models.TextChoices):
    UNMAPPED = "unmapped", "Unmapped (channel ids unknown)"
    PENDING = "pending", "Pending push"
    IN_SYNC = "in_sync", "In sync"
    ERROR = "error", "Push failing"
    DEAD = "dead", "In the dead-letter queue"
    PAUSED = "paused", "Channel disabled"
    # The channel does not carry the SKU: nothing is pushed (no DLQ entries); the next
    # reconcile, or mapping the listing, picks it up when the channel lists it.
    NOT_ON_CHANNEL = "not_on_channel", "Not on channel"


class Listing(models.Model):
    """One SKU as one channel knows it."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="listings")
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="listings")
    external_id = models.CharField(max_length=255, blank=True)
    external_parent_id = models.CharField(max_length=255, blank=True)
    external_location_id = models.CharField(max_length=255, blank=True)
    published = models.IntegerField(default=0, help_text="What the rules say it may sell.")
    target_version = models.BigIntegerField(default=0, help_text="Increments with published.")
    confirmed = models.IntegerField(null=True, blank=True, help_text="Last read back.")
    confirmed_version = models.BigIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_reported = models.IntegerField(null=True, blank=True)
    last_reported_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(
        max_length=20, choices=ListingState.choices, default=ListingState.PENDING
    )
    reconciled_at = models.DateTimeField(
        null=True, blank=True, help_text="When a reconcile last read it on the channel."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["channel_id", "sku_id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "sku"], name="one_listing_per_channel_sku")
        ]
        indexes = [models.Index(fields=["channel", "external_id"])]

    def __str__(self) -> str:
        return f"{self.sku} on {self.channel}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    CONFIRMED = "confirmed", "Confirmed"
    SUPERSEDED = "superseded", "Superseded by a newer target"
    DEAD = "dead", "Dead (DLQ)"
    DISCARDED = "discarded", "Discarded by a person"
    NOT_LISTED = "not_listed", "Dropped: the channel does not list the SKU"


class OutboxEntry(models.Model):
    """A quantity owed to a channel listing. At most one pending row per listing: a newer
    target replaces the pending one (coalescing); decreases outrank increases."""

    PRIORITY_DECREASE = 0
    PRIORITY_INCREASE = 1

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="outbox")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="outbox")
    quantity = models.IntegerField()
    target_version = models.BigIntegerField()
    priority = models.PositiveSmallIntegerField(default=PRIORITY_INCREASE)
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(help_text="When the stock change was committed.")

    class Meta:
        permissions = [("act_on_dlq", "Can retry or discard dead-letter entries")]
        ordering = ["priority", "next_attempt_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["listing"], condition=Q(status="pending"), name="one_pending_per_listing"
            )
        ]
        indexes = [models.Index(fields=["channel", "status", "priority", "next_attempt_at"])]
        verbose_name_plural = "outbox entries"

    def __str__(self) -> str:
        return f"{self.listing} -> {self.quantity} ({self.status})"


class ChannelAuditKind(models.TextChoices):
    PUSH = "push", "Push"
    CONFIRM = "confirm", "Confirmed"
    FAIL = "fail", "Push failed"
    DEAD = "dead", "Dead-lettered"
    RETRY = "retry", "Retried by a person"
    DISCARD = "discard", "Discarded by a person"
    RULE = "rule", "Allocation rule changed"
    CHANNEL = "channel", "Channel changed"
    DRIFT = "drift", "Drift decision"
    RECONCILE = "reconcile", "Reconcile"
    NOT_LISTED = "not_listed", "Not on channel"


class ChannelAudit(models.Model):
    """Pushes, confirmations and decisions, for the per-SKU audit trail."""

    kind = models.CharField(max_length=10, choices=ChannelAuditKind.choices)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="audit")
    sku = models.ForeignKey(Sku, null=True, blank=True, on_delete=models.CASCADE)
    outbox_entry = models.ForeignKey(OutboxEntry, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["sku", "-id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.channel_id}: {self.message}"


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    DUPLICATE = "duplicate", "Duplicate"
    IGNORED_STALE = "ignored_stale", "Ignored (stale)"
    # A level report for a location the hub does not publish to (Shopify multi-location).
    IGNORED_OTHER_LOCATION = "other_location", "Ignored (another location)"
    UNMAPPED = "unmapped", "Unmapped SKU"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead (gave up)"
    # Verified, but the hub cannot read it (an unknown topic, missing or unexpected
    # fields): stored, answered 200, never applied; the reason is in `error`.
    UNREADABLE = "unreadable", "Unreadable (waits for a person)"
    # An unreadable delivery a person looked at and set aside.
    HANDLED = "handled", "Handled by a person"


class InboundEvent(models.Model):
    """The inbox: every accepted delivery, stored before anything else happens.
    (channel, dedupe_key) is UNIQUE, so a redelivery changes nothing. Kept >= 30 days."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="inbox")
    dedupe_key = models.CharField(max_length=255)
    topic = models.CharField(max_length=100)
    body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    source_timestamp = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=15, choices=InboundStatus.choices, default=InboundStatus.RECEIVED
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    unmapped_skus = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "dedupe_key"], name="inbox_dedupe")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.topic}:{self.dedupe_key} ({self.status})"


class ChannelOrderLine(models.Model):
    """The state machine of one order line on one channel. It remembers which events
    were seen, so each transition applies once in any arrival order (a cancel that
    arrives before its order is remembered, and the order then reserves nothing)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="order_lines")
    order_id = models.CharField(max_length=255)
    line_ref = models.CharField(max_length=255)
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="channel_order_lines")
    quantity = models.PositiveIntegerField(default=0)
    placed = models.BooleanField(default=False)
    cancelled = models.BooleanField(default=False)
    fulfilled = models.BooleanField(default=False)
    refunded = models.BooleanField(default=False)
    restock_quantity = models.PositiveIntegerField(default=0)
    # What the ledger has actually been told, to converge on what the flags imply.
    applied = models.CharField(max_length=10, default="none")
    returned_quantity = models.PositiveIntegerField(default=0)
    reservation = models.ForeignKey(
        "ledger.Reservation", null=True, blank=True, on_delete=models.PROTECT
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "order_id", "line_ref"], name="one_state_per_order_line"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.order_id}:{self.line_ref} ({self.applied})"


class DriftStatus(models.TextChoices):
    OPEN = "open", "Open (recorded, not yet investigated)"
    AUTO_CORRECTED = "auto_corrected", "Corrected automatically"
    ESCALATED = "escalated", "Escalated to a person"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RESOLVED = "resolved", "Resolved by itself"


class DriftSeverity(models.TextChoices):
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"


# Drift that still waits for someone (the investigator, then a person).
DRIFT_UNDECIDED = (DriftStatus.OPEN, DriftStatus.ESCALATED)


class Drift(models.Model):
    """A channel shows a number the hub did not publish and no pending push explains.
    Recorded first, acted on second."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="drift")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="drift")
    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="drift")
    hub_quantity = models.IntegerField(help_text="What the hub publishes.")
    channel_quantity = models.IntegerField(help_text="What the channel shows.")
    source = models.CharField(max_length=20, default="webhook")
    severity = models.CharField(
        max_length=10, choices=DriftSeverity.choices, default=DriftSeverity.MAJOR
    )
    confidence = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.5"))
    reasoning = models.TextField(blank=True)
    status = models.CharField(max_length=15, choices=DriftStatus.choices, default=DriftStatus.OPEN)
    inbound_event = models.ForeignKey(
        InboundEvent, null=True, blank=True, on_delete=models.SET_NULL
    )
    run = models.ForeignKey(
        "ReconcileRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="drift"
    )
    evidence = models.JSONField(default=dict, blank=True)
    detected_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decision_note = models.TextField(blank=True)

    class Meta:
        permissions = [
            (
                "decide_drift",
                "Can decide drift: push the hub's number, accept the channel's, reject",
            )
        ]
        ordering = ["-detected_at"]
        indexes = [models.Index(fields=["listing", "status"])]

    def __str__(self) -> str:
        hub, seen = self.hub_quantity, self.channel_quantity
        return f"{self.sku_id} on {self.channel_id}: hub {hub} vs channel {seen}"

    @property
    def delta(self) -> int:
        return self.channel_quantity - self.hub_quantity


class ReconcileRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class ReconcileRun(models.Model):
    """One pass over a channel's listings. `cursor` (the last listing id compared) moves
    in the same transaction as the drift rows of each batch, so a run that dies halfway
    resumes where it stopped and never counts a listing twice."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="reconcile_runs")
    full = models.BooleanField(default=False, help_text="The daily full-catalogue pass.")
    dry_run = models.BooleanField(default=False)
    trigger = models.CharField(max_length=20, default="schedule")
    status = models.CharField(
        max_length=10, choices=ReconcileRunStatus.choices, default=ReconcileRunStatus.RUNNING
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cursor = models.BigIntegerField(default=0)
    listings_total = models.PositiveIntegerField(default=0)
    listings_checked = models.PositiveIntegerField(default=0)
    pending_skipped = models.PositiveIntegerField(default=0)
    drift_found = models.PositiveIntegerField(default=0)
    drift_resolved = models.PositiveIntegerField(default=0)
    auto_corrected = models.PositiveIntegerField(default=0)
    escalated = models.PositiveIntegerField(default=0)
    not_on_channel = models.PositiveIntegerField(default=0)
    discovered = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    error_messages = models.JSONField(default=list, blank=True)
    resumed = models.PositiveIntegerField(default=0, help_text="Times it was picked up again.")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["channel", "-started_at"])]

    def __str__(self) -> str:
        return f"reconcile {self.pk} of {self.channel_id} ({self.status})"


class Digest(models.Model):
    """The daily digest, one per day: its absence is the alarm (/healthz)."""

    day = models.DateField(unique=True)
    sent_at = models.DateTimeField(auto_now_add=True)
    all_clear = models.BooleanField(default=False)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    recipients = models.JSONField(default=list, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return self.subject


class CountStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    AWAITING_APPROVAL = "awaiting", "Awaiting approval"
    APPROVED = "approved", "Approved and applied"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Refused by the ledger"


class CountLine(models.Model):
    """One line of an applied physical count: applied at once, or waiting for a person
    when its difference is above the auto-fix thresholds."""

    batch = models.CharField(max_length=40, db_index=True)
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="count_lines")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="count_lines")
    counted = models.PositiveIntegerField()
    counted_at = models.DateTimeField()
    ledger_at_count = models.IntegerField(help_text="The ledger's on hand at the count time.")
    difference = models.IntegerField()
    status = models.CharField(max_length=10, choices=CountStatus.choices)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    operation_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"count {self.sku_id}@{self.location_id}: {self.counted} ({self.status})"

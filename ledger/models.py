"""The stock ledger: SKUs, locations, stock levels and the append-only movement history.

A StockLevel is a cache of the sum of its movements; `ledger_verify` proves it. Rows
are only ever written through `ledger.services`, which lock the levels they change.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


def normalize_sku_code(code: str) -> str:
    """The matching form of a SKU code: trimmed and case-folded ("  ab-1 " == "AB-1")."""
    return code.strip().casefold()


class Sku(models.Model):
    code = models.CharField(max_length=100, help_text="As the merchant wrote it.")
    code_key = models.CharField(max_length=100, unique=True, editable=False)
    title = models.CharField(max_length=255, blank=True)
    barcode = models.CharField(max_length=64, blank=True)
    attributes = models.JSONField(default=dict, blank=True, help_text="Variant attributes.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code_key"]
        verbose_name = "SKU"

    def __str__(self) -> str:
        return self.code

    def save(self, *args, **kwargs) -> None:
        self.code = self.code.strip()
        self.code_key = normalize_sku_code(self.code)
        super().save(*args, **kwargs)


class Location(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    priority = models.PositiveIntegerField(
        default=100, help_text="Reservations without a location take stock here first (lowest)."
    )
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_location"
            )
        ]

    def __str__(self) -> str:
        return self.name


class StockLevel(models.Model):
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="levels")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="levels")
    on_hand = models.IntegerField(default=0)
    committed = models.IntegerField(default=0, help_text="Reserved by open orders.")
    version = models.BigIntegerField(default=0, help_text="Increments on every change.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sku", "location"], name="one_level_per_sku_location"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="on_hand_not_negative"),
            models.CheckConstraint(condition=Q(committed__gte=0), name="committed_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} @ {self.location}: {self.on_hand} on hand, {self.committed} committed"

    @property
    def available(self) -> int:
        return self.on_hand - self.committed


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    ADJUSTMENT = "adjustment", "Adjustment"
    COUNT = "count", "Count"
    RETURN = "return", "Return"
    TRANSFER = "transfer", "Transfer"
    RESERVE = "reserve", "Reserve"
    RELEASE = "release", "Release"
    SHIP = "ship", "Ship"


class Source(models.TextChoices):
    USER = "user", "User"
    API = "api", "API"
    CHANNEL = "channel", "Channel"
    SYSTEM = "system", "System"


class StockOperation(models.Model):
    """One business operation (a receipt, a transfer, a reservation...), its movements'
    common receipt, and the key that makes a retried request return the first result."""

    kind = models.CharField(max_length=20)
    idempotency_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    result = models.JSONField(default=dict)
    source = models.CharField(max_length=10, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class Movement(models.Model):
    """Append-only: a database trigger refuses UPDATE and DELETE (migration 0002)."""

    operation = models.ForeignKey(
        StockOperation, on_delete=models.PROTECT, related_name="movements"
    )
    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="movements")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=20, choices=MovementKind.choices)
    on_hand_delta = models.IntegerField()
    committed_delta = models.IntegerField()
    on_hand_after = models.IntegerField()
    committed_after = models.IntegerField()
    level_version = models.BigIntegerField(help_text="StockLevel.version after this movement.")
    source = models.CharField(max_length=10, choices=Source.choices)
    source_ref = models.CharField(
        max_length=255, blank=True, help_text="Channel slug, order id, inbound event id..."
    )
    inbound_event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    reservation = models.ForeignKey(
        "Reservation", null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    idempotency_key = models.CharField(max_length=300, unique=True, null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    reason = models.CharField(max_length=500, blank=True)
    source_timestamp = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        permissions = [
            (
                "record_movement",
                "Can record stock movements: receipts, adjustments, counts, returns, transfers",
            )
        ]
        ordering = ["id"]
        indexes = [models.Index(fields=["sku", "location", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.sku} {self.on_hand_delta:+}/{self.committed_delta:+}"


class ReservationStatus(models.TextChoices):
    OPEN = "open", "Open"
    RELEASED = "released", "Released"
    SHIPPED = "shipped", "Shipped"


class Reservation(models.Model):
    """Units committed to an order line, possibly split across locations."""

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()
    order_id = models.CharField(max_length=255)
    line_ref = models.CharField(max_length=255, blank=True, default="")
    channel_slug = models.CharField(max_length=50, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.OPEN
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel_slug", "order_id", "sku", "line_ref"],
                name="one_reservation_per_order_line",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="reservation_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku} for {self.order_id} ({self.status})"


class ReservationLine(models.Model):
    reservation = models.ForeignKey(Reservation, on_delete=models.PROTECT, related_name="lines")
    location = models.ForeignKey(Location, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} @ {self.location_id}"


class IncidentStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class OversellIncident(models.Model):
    """A channel sold more than the hub had: the sale is recorded, available goes below
    zero, and this stays open until stock arrives or a person resolves it."""

    sku = models.ForeignKey(Sku, on_delete=models.PROTECT, related_name="incidents")
    status = models.CharField(
        max_length=10, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    shortfall = models.PositiveIntegerField(help_text="Units sold beyond what was available.")
    orders = models.JSONField(default=list, help_text="[{channel, order_id, quantity}]")
    opened_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=500, blank=True)
    # Who resolved it; empty when stock arriving covered the shortfall.
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        permissions = [("resolve_oversellincident", "Can resolve oversell incidents")]
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sku"], condition=Q(status="open"), name="one_open_incident_per_sku"
            )
        ]

    def __str__(self) -> str:
        return f"Oversell of {self.sku} by {self.shortfall} ({self.status})"

"""REST API for channels, allocation rules and listings. Thin: parse, call a service, render.

Secrets are write-only: responses show at most the last four characters. A secret sent
inside ``settings`` is kept with the encrypted credentials (``channels.settings_schema``)
and shown only as a ``credentials_hint`` entry; ``settings`` never carries one.
"""

from __future__ import annotations

from decimal import Decimal

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.drift import ACCEPT_CHANNEL, PUSH_HUB, drift_approve, drift_reject
from channels.models import (
    AllocationMode,
    AllocationRule,
    Channel,
    ChannelKind,
    Drift,
    Listing,
    OutboxEntry,
)
from channels.propagation.dlq import dlq_discard, dlq_retry
from channels.selectors import (
    channel_get,
    channel_list,
    dlq_entries,
    drift_list,
    listing_list,
    outbox_entries,
    sku_audit_trail,
)
from channels.services import (
    allocation_rule_delete,
    allocation_rule_set,
    channel_create,
    channel_update,
    listing_map,
    listings_export_csv,
    listings_import_csv,
)
from channels.settings_schema import SECRET_SETTINGS, shown_settings
from foundation.crypto import masked
from foundation.errors import NotFound
from foundation.openapi import AutoSchema, error_responses
from foundation.parsers import MAX_BODY, BodyTooLarge, JSONParser
from ledger.services import location_get, sku_get

from .fields import ExternalId, Slug, Text


class AllocationSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=AllocationMode.choices, required=False)
    share_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal(0), max_value=Decimal(100), required=False
    )
    fixed_quantity = serializers.IntegerField(min_value=0, max_value=1_000_000_000, required=False)
    buffer_units = serializers.IntegerField(min_value=0, max_value=1_000_000_000, required=False)
    buffer_percent = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal(0), max_value=Decimal(100), required=False
    )


def rule_as_dict(rule: AllocationRule | None) -> dict | None:
    if rule is None:
        return None
    return {
        "mode": rule.mode,
        "share_percent": str(rule.share_percent),
        "fixed_quantity": rule.fixed_quantity,
        "buffer_units": rule.buffer_units,
        "buffer_percent": str(rule.buffer_percent),
    }


SETTINGS_HELP = (
    "The kind's options: base_url, the channel's limits (batch_size, rate_limit_per_second, "
    "rate_limit_burst, timeout_seconds, claim_lease_seconds, retry_schedule_seconds, "
    "reconcile_interval_minutes, revisions_per_listing_per_day, compare_and_set) and what "
    "the kind reads (e.g. eBay marketplace_id, content_language, notification_key_url, "
    "endpoint_url). A key the kind does not read is refused (400). Secrets sent here ("
    + ", ".join(sorted(SECRET_SETTINGS))
    + ") are write-only: they are stored encrypted with the credentials, never returned in "
    "settings, and listed in credentials_hint."
)
SETTINGS_PATCH_HELP = (
    SETTINGS_HELP
    + " PATCH merges key by key: keys left out stay as they are, a key sent as null is "
    "removed (a secret too); a list value such as retry_schedule_seconds is replaced whole."
)
SETTINGS_PUT_HELP = (
    SETTINGS_HELP
    + " PUT replaces the whole object: keys left out are removed, except secrets, which "
    "only a PATCH with null (or new credentials) removes."
)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "Every stored credential's name (secrets sent inside settings "
        "included, e.g. application_token) with a hint: its last four characters at most "
        '("••••wxyz"; "••••" for one under 20 characters). Never the value.',
        "example": {"access_token": "••••wxyz", "application_token": "••••9f2c"},
    }
)
class CredentialsHintField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, channel) -> dict:
        return {key: masked(str(value)) for key, value in (channel.credentials or {}).items()}


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "description": "The channel's non-secret settings. Secrets are never here: see "
        "credentials_hint.",
    }
)
class ShownSettingsField(serializers.Field):
    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, channel) -> dict:
        return shown_settings(channel.settings)


class ChannelOutputSerializer(serializers.ModelSerializer):
    settings = ShownSettingsField()
    allocation = serializers.SerializerMethodField()
    fulfilment_locations = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()
    webhook_secret_hint = serializers.SerializerMethodField()
    credentials_hint = CredentialsHintField()
    webhook_url = serializers.SerializerMethodField()
    # What the merchant must do before pushes resume, in words; null when nothing.
    needs_action = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "slug",
            "kind",
            "name",
            "enabled",
            "settings",
            "allocation",
            "fulfilment_locations",
            "capabilities",
            "webhook_url",
            "webhook_secret_hint",
            "credentials_hint",
            "reconcile_interval_minutes",
            "last_reconciled_at",
            "needs_action",
            "needs_action_since",
        ]
        read_only_fields = ["needs_action_since"]

    def get_needs_action(self, channel) -> str | None:
        return channel.needs_action or None

    def get_allocation(self, channel) -> dict | None:
        return rule_as_dict(next((r for r in channel.rules.all() if r.sku_id is None), None))

    def get_fulfilment_locations(self, channel) -> list[str]:
        return [link.location.code for link in channel.channellocation_set.all()]

    def get_capabilities(self, channel) -> dict:
        return {
            "batch_size": channel.batch_size,
            "compare_and_set": channel.compare_and_set,
            "rate_limit_per_second": channel.rate_limit_per_second,
            "rate_limit_burst": channel.rate_limit_burst,
        }

    def get_webhook_secret_hint(self, channel) -> str:
        return masked(channel.webhook_secret)

    def get_webhook_url(self, channel) -> str:
        request = self.context.get("request")
        path = f"/webhooks/{channel.slug}/"
        return request.build_absolute_uri(path) if request else path


class ChannelInputSerializer(serializers.Serializer):
    slug = Slug(max_length=50)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    name = Text(max_length=100)
    enabled = serializers.BooleanField(default=True)
    webhook_secret = Text(
        max_length=500, required=False, allow_blank=True, default="", write_only=True
    )
    credentials = serializers.DictField(required=False, default=dict, write_only=True)
    settings = serializers.DictField(required=False, default=dict, help_text=SETTINGS_HELP)
    allocation = AllocationSerializer(required=False)
    fulfilment_locations = serializers.ListField(
        child=Slug(max_length=50), required=False, default=list
    )


def _locations(codes: list[str]):
    return [location_get(code) for code in codes]


class ChannelListApi(ListAPIView):
    # A channel carries objects (settings, credentials, allocation): JSON only, so that a
    # form post cannot drop them silently.
    parser_classes = [JSONParser]
    required_permissions = {
        "GET": "channels.view_channel",
        "POST": ("channels.add_channel", "channels.manage_channel_endpoints"),
    }

    serializer_class = ChannelOutputSerializer
    pagination_class = None

    def get_queryset(self):
        return channel_list()

    @extend_schema(
        request=ChannelInputSerializer,
        responses={201: ChannelOutputSerializer, **error_responses(404)},
    )
    def post(self, request: Request) -> Response:
        data = ChannelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["fulfilment_locations"] = _locations(values.get("fulfilment_locations", []))
        channel = channel_create(**values, actor=request.user)
        channel = channel_list().get(pk=channel.pk)
        return Response(
            ChannelOutputSerializer(channel, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class ChannelDetailApi(APIView):
    """One channel. PATCH changes what it is sent (``settings`` and ``credentials`` merged
    key by key, a key sent as null removed; a channel whose endpoint moves keeps only the
    credentials sent with it); PUT replaces name, enabled and the whole ``settings``
    object, and ``credentials`` when sent.
    Write-only secrets (``webhook_secret``, ``credentials``, secrets inside settings)
    are never replaced by leaving them out."""

    parser_classes = [JSONParser]  # objects inside: JSON only
    required_permissions = {
        "GET": "channels.view_channel",
        "PATCH": "channels.change_channel",
        "PUT": "channels.change_channel",
    }

    @extend_schema_serializer(component_name="ChannelUpdate")
    class UpdateSerializer(ChannelInputSerializer):
        slug = None
        kind = None
        name = Text(max_length=100, required=False)
        enabled = serializers.BooleanField(required=False)
        webhook_secret = Text(max_length=500, required=False, write_only=True)
        credentials = serializers.DictField(required=False, write_only=True)
        settings = serializers.DictField(required=False, help_text=SETTINGS_PATCH_HELP)
        fulfilment_locations = serializers.ListField(child=Slug(max_length=50), required=False)

    @extend_schema_serializer(component_name="ChannelReplace")
    class ReplaceSerializer(UpdateSerializer):
        name = Text(max_length=100)
        enabled = serializers.BooleanField()
        settings = serializers.DictField(help_text=SETTINGS_PUT_HELP)

    @extend_schema(responses=ChannelOutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        channel = channel_list().get(pk=channel_get(slug).pk)
        return Response(ChannelOutputSerializer(channel, context={"request": request}).data)

    @extend_schema(request=UpdateSerializer, responses=ChannelOutputSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, self.UpdateSerializer, merge=True)

    @extend_schema(request=ReplaceSerializer, responses=ChannelOutputSerializer)
    def put(self, request: Request, slug: str) -> Response:
        return self._update(request, slug, self.ReplaceSerializer, merge=False)

    def _update(self, request: Request, slug: str, serializer, *, merge: bool) -> Response:
        channel = channel_get(slug)
        data = serializer(data=request.data, partial=merge)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if merge and "settings" in changes:
            changes["settings_changes"] = changes.pop("settings")
        if merge and "credentials" in changes:
            changes["credentials_changes"] = changes.pop("credentials")
        if "fulfilment_locations" in changes:
            changes["fulfilment_locations"] = _locations(changes["fulfilment_locations"])
        channel_update(channel=channel, actor=request.user, **changes)
        channel = channel_list().get(pk=channel.pk)
        return Response(ChannelOutputSerializer(channel, context={"request": request}).data)


class AllocationOverrideApi(APIView):
    required_permissions = {
        "GET": "channels.view_allocationrule",
        "POST": ("channels.add_allocationrule", "channels.change_allocationrule"),
    }

    @extend_schema_serializer(component_name="AllocationOverride")
    class InputSerializer(AllocationSerializer):
        sku = Text(max_length=100)

    @extend_schema(responses=InputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        channel = channel_get(slug)
        rules = AllocationRule.objects.filter(channel=channel, sku__isnull=False).select_related(
            "sku"
        )
        return Response([{"sku": r.sku.code, **rule_as_dict(r)} for r in rules])

    @extend_schema(request=InputSerializer, responses={201: InputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        channel = channel_get(slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        sku = sku_get(values.pop("sku"))
        rule = allocation_rule_set(channel=channel, sku=sku, values=values, actor=request.user)
        return Response({"sku": sku.code, **rule_as_dict(rule)}, status=status.HTTP_201_CREATED)


class AllocationOverrideDetailApi(APIView):
    required_permissions = {"DELETE": "channels.delete_allocationrule"}

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, slug: str, sku: str) -> Response:
        allocation_rule_delete(channel=channel_get(slug), sku=sku_get(sku), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ListingSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")

    class Meta:
        model = Listing
        fields = [
            "sku",
            "external_id",
            "external_parent_id",
            "external_location_id",
            "published",
            "confirmed",
            "confirmed_at",
            "state",
        ]


class ListingListApi(ListAPIView):
    required_permissions = {"GET": "channels.view_listing", "POST": "channels.change_listing"}

    @extend_schema_serializer(component_name="ListingMap")
    class InputSerializer(serializers.Serializer):
        sku = Text(max_length=100)
        external_id = ExternalId(required=False, allow_blank=True, default="")
        external_parent_id = ExternalId(required=False, allow_blank=True, default="")
        external_location_id = ExternalId(required=False, allow_blank=True, default="")

    serializer_class = ListingSerializer

    def get_queryset(self):
        return listing_list(channel=channel_get(self.kwargs["slug"]))

    @extend_schema(request=InputSerializer, responses={201: ListingSerializer})
    def post(self, request: Request, slug: str) -> Response:
        channel = channel_get(slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        sku = sku_get(values.pop("sku"))
        listing = listing_map(channel=channel, sku=sku, **values)
        return Response(ListingSerializer(listing).data, status=status.HTTP_201_CREATED)


def csv_text(raw: bytes) -> str:
    """The text of an uploaded CSV: UTF-8 (a BOM is fine), within the size limit."""
    if len(raw) > MAX_BODY:
        raise BodyTooLarge()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise serializers.ValidationError(
            {"file": ["The CSV is not UTF-8 text: save it as CSV UTF-8 and send it again."]}
        ) from None


class CsvParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> dict:
        return {"csv": csv_text(stream.read(MAX_BODY + 1)) if stream is not None else ""}


class ListingImportApi(APIView):
    """POST a CSV (`sku,channel,external_id,external_parent_id,external_location_id`) as
    the body (text/csv), a multipart `file`, or JSON `{"csv": "..."}`."""

    required_permissions = {"POST": "channels.change_listing"}

    parser_classes = [JSONParser, MultiPartParser, FormParser, CsvParser]

    @extend_schema(
        request={
            "text/csv": OpenApiTypes.STR,
            "application/json": inline_serializer("ListingCsv", {"csv": serializers.CharField()}),
            "multipart/form-data": inline_serializer(
                "ListingCsvUpload", {"file": serializers.FileField()}
            ),
        },
        responses={200: dict},
    )
    def post(self, request: Request) -> Response:
        data = request.data if hasattr(request.data, "get") else {}
        upload = data.get("file")
        if upload is not None and hasattr(upload, "read"):
            text = csv_text(upload.read(MAX_BODY + 1))
        else:
            text = data.get("csv")
        if not isinstance(text, str) or not text.strip():
            raise serializers.ValidationError({"file": "Send the CSV as text/csv, a file, or csv."})
        if "\x00" in text:
            # PostgreSQL cannot store a NUL character: refuse the file, not half of it.
            raise serializers.ValidationError({"file": ["Null characters are not allowed."]})
        report = listings_import_csv(text=text)
        return Response(report.as_dict())


class ListingExportApi(APIView):
    required_permissions = {"GET": "channels.view_listing"}

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(listings_export_csv(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="listings.csv"'
        return response


# --- the dead-letter queue --------------------------------------------------------------


class DlqEntrySerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.slug")
    sku = serializers.CharField(source="listing.sku.code")
    error = serializers.CharField(source="last_error")
    payload = serializers.SerializerMethodField()

    class Meta:
        model = OutboxEntry
        fields = [
            "id",
            "channel",
            "sku",
            "quantity",
            "payload",
            "attempts",
            "error",
            "status",
            "updated_at",
        ]

    def get_payload(self, entry) -> dict:
        return {
            "sku": entry.listing.sku.code,
            "quantity": entry.quantity,
            "target_version": entry.target_version,
        }


class DlqListApi(ListAPIView):
    required_permissions = {"GET": "channels.view_outboxentry"}

    serializer_class = DlqEntrySerializer

    def get_queryset(self):
        return dlq_entries(channel=self.request.query_params.get("channel"))


def _dead_entry(pk: int) -> OutboxEntry:
    entry = dlq_entries().filter(pk=pk).first()
    if entry is None:
        raise NotFound(f"No dead-letter entry {pk}.", entry_id=pk)
    return entry


class DlqActionSchema(AutoSchema):
    """One view class serves retry and discard (`as_view(action=...)`): name each
    operation after its action so the OpenAPI operation ids stay unique."""

    def get_operation_id(self) -> str:
        scope = "bulk_" if "pk" not in self.path_regex and "{id}" not in self.path else ""
        return f"dlq_{scope}{self.view.action}"


class DlqEntryActionApi(APIView):
    required_permissions = {"POST": "channels.act_on_dlq"}

    action: str = "retry"
    schema = DlqActionSchema()

    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        entry = _dead_entry(pk)
        service = dlq_retry if self.action == "retry" else dlq_discard
        count = service(entries=[entry], actor=request.user)
        return Response({"action": self.action, "count": count, "ids": [pk]})


class DlqBulkActionApi(APIView):
    required_permissions = {"POST": "channels.act_on_dlq"}

    action: str = "retry"
    schema = DlqActionSchema()

    @extend_schema_serializer(component_name="DlqBulkAction")
    class InputSerializer(serializers.Serializer):
        ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
        channel = Slug(required=False)

        def validate(self, attrs):
            if not attrs.get("ids") and not attrs.get("channel"):
                raise serializers.ValidationError({"ids": "Send ids or channel."})
            return attrs

    @extend_schema(request=InputSerializer, responses={200: dict, **error_responses(404)})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entries = dlq_entries()
        if data.validated_data.get("channel"):
            channel_get(data.validated_data["channel"])
            entries = entries.filter(channel__slug=data.validated_data["channel"])
        if data.validated_data.get("ids"):
            entries = entries.filter(pk__in=data.validated_data["ids"])
        entries = list(entries)
        service = dlq_retry if self.action == "retry" else dlq_discard
        count = service(entries=entries, actor=request.user)
        return Response({"action": self.action, "count": count, "ids": [e.pk for e in entries]})


# --- drift and audit --------------------------------------------------------------------


class DriftSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.slug")
    sku = serializers.CharField(source="sku.code")
    # The contract's names; hub_quantity and channel_quantity stay for older clients.
    expected = serializers.IntegerField(source="hub_quantity")
    observed = serializers.IntegerField(source="channel_quantity")
    delta = serializers.IntegerField()
    confidence = serializers.FloatField()
    run = serializers.IntegerField(source="run_id", allow_null=True)
    listing = serializers.IntegerField(source="listing_id")
    decided_by = serializers.CharField(source="decided_by.username", default=None)

    class Meta:
        model = Drift
        fields = [
            "id",
            "run",
            "channel",
            "listing",
            "sku",
            "expected",
            "observed",
            "hub_quantity",
            "channel_quantity",
            "delta",
            "source",
            "severity",
            "confidence",
            "reasoning",
            "evidence",
            "status",
            "detected_at",
            "decided_at",
            "decided_by",
            "decision_note",
        ]


class DriftListApi(ListAPIView):
    required_permissions = {"GET": "channels.view_drift"}

    serializer_class = DriftSerializer

    def get_queryset(self):
        params = self.request.query_params
        return drift_list(
            status=params.get("status", ""),
            severity=params.get("severity", ""),
            channel=params.get("channel", ""),
            sku=params.get("sku", ""),
        )


def _drift(pk: int) -> Drift:
    drift = Drift.objects.filter(pk=pk).first()
    if drift is None:
        raise NotFound(f"No drift record {pk}.", drift_id=pk)
    return drift


class DriftDecisionApi(APIView):
    """A person's decision on one drift record: parse, decide (a service), render."""

    required_permissions = {"POST": "channels.decide_drift"}

    @extend_schema_serializer(component_name="DriftReject")
    class InputSerializer(serializers.Serializer):
        note = Text(max_length=1000, required=False, allow_blank=True, default="")

    @staticmethod
    def decide(**values) -> Drift:
        return drift_reject(**values)

    def post(self, request: Request, pk: int) -> Response:
        drift = _drift(pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        drift = self.decide(drift=drift, actor=request.user, **data.validated_data)
        return Response(DriftSerializer(drift).data)


@extend_schema_view(
    post=extend_schema(
        request=DriftDecisionApi.InputSerializer,
        responses={200: DriftSerializer, **error_responses(409)},
    )
)
class DriftRejectApi(DriftDecisionApi):
    pass


@extend_schema_serializer(component_name="DriftApprove")
class DriftApproveSerializer(DriftDecisionApi.InputSerializer):
    action = serializers.ChoiceField(choices=[PUSH_HUB, ACCEPT_CHANNEL])


@extend_schema_view(
    post=extend_schema(
        request=DriftApproveSerializer, responses={200: DriftSerializer, **error_responses(409)}
    )
)
class DriftApproveApi(DriftDecisionApi):
    InputSerializer = DriftApproveSerializer

    @staticmethod
    def decide(**values) -> Drift:
        return drift_approve(**values)


class AuditApi(APIView):
    required_permissions = {"GET": ("channels.view_channelaudit", "ledger.view_movement")}

    @extend_schema(
        parameters=[OpenApiParameter("sku", str, required=True), OpenApiParameter("limit", int)],
        responses={200: dict, **error_responses(404)},
    )
    def get(self, request: Request) -> Response:
        code = request.query_params.get("sku", "").strip()
        if not code:
            raise serializers.ValidationError({"sku": "Name the SKU: /api/v1/audit/?sku=CODE"})
        try:
            limit = min(max(int(request.query_params.get("limit", 500)), 1), 5000)
        except ValueError:
            raise serializers.ValidationError({"limit": "A whole number."}) from None
        sku = sku_get(code)
        return Response({"sku": sku.code, "results": sku_audit_trail(sku=sku, limit=limit)})


class OutboxListApi(ListAPIView):
    """What the hub still owes the channels: pending and in-flight pushes by default
    (`?status=` any outbox status, `?channel=`, `?sku=`)."""

    required_permissions = {"GET": "channels.view_outboxentry"}

    class OutputSerializer(DlqEntrySerializer):
        class Meta(DlqEntrySerializer.Meta):
            fields = [
                "id",
                "channel",
                "sku",
                "quantity",
                "status",
                "priority",
                "attempts",
                "next_attempt_at",
                "error",
                "updated_at",
            ]

    serializer_class = OutputSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str),
            OpenApiParameter("channel", str),
            OpenApiParameter("sku", str),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        statuses = [params["status"]] if params.get("status") else None
        return outbox_entries(
            statuses=statuses, channel=params.get("channel", ""), sku=params.get("sku", "")
        )

"""The merchant REST API for SKUs, movements, reservations and incidents.

Views parse input, call one service, render output. Errors follow one shape
(`foundation.errors`); an Idempotency-Key header makes a retry return the first result.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.selectors import channel_get, channel_locations, sku_channel_states
from foundation.openapi import error_responses
from ledger.errors import InvalidOperation, ReservationNotFound
from ledger.models import Location, Movement, OversellIncident, Reservation, Source
from ledger.selectors import sku_levels, sku_list
from ledger.services import (
    MAX_QUANTITY,
    MOVEMENT_KINDS,
    Origin,
    incident_resolve,
    location_create,
    location_get,
    movement_record,
    reservation_release,
    reservation_ship,
    sku_create,
    sku_get,
    skus_by_code,
    skus_create,
    stock_receive_lines,
    stock_reserve,
)

from .fields import ExternalId, Slug, Text

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Retrying with the same key returns the first result; "
    "reusing it for a different request is a 409 idempotency_conflict.",
)


def api_origin(request: Request, *, reason: str = "") -> Origin:
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key and len(key) > 200:
        raise InvalidOperation(
            "Idempotency-Key must be at most 200 characters.", field="Idempotency-Key"
        )
    return Origin(
        source=Source.API,
        actor=request.user,
        reason=reason,
        idempotency_key=f"api:{key}" if key else None,
    )


def replay_headers(operation) -> dict[str, str]:
    return {"Idempotent-Replayed": "true"} if getattr(operation, "replayed", False) else {}


# --- SKUs -------------------------------------------------------------------------------


class SkuListApi(ListAPIView):
    required_permissions = {"GET": "ledger.view_sku", "POST": "ledger.add_sku"}

    @extend_schema_serializer(component_name="SkuSummary")
    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        title = serializers.CharField()
        barcode = serializers.CharField()
        attributes = serializers.JSONField()
        on_hand = serializers.IntegerField(source="total_on_hand")
        committed = serializers.IntegerField(source="total_committed")
        available = serializers.SerializerMethodField()

        def get_available(self, sku) -> int:
            return sku.total_on_hand - sku.total_committed

    @extend_schema_serializer(component_name="SkuCreate")
    class InputSerializer(serializers.Serializer):
        code = Text(max_length=100)
        title = Text(max_length=255, required=False, allow_blank=True, default="")
        barcode = Text(max_length=64, required=False, allow_blank=True, default="")
        attributes = serializers.DictField(required=False, default=dict)

    serializer_class = OutputSerializer

    def get_queryset(self):
        return sku_list(search=self.request.query_params.get("search", ""))

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sku = sku_create(**data.validated_data)
        sku.total_on_hand = sku.total_committed = 0
        return Response(self.OutputSerializer(sku).data, status=status.HTTP_201_CREATED)


class LevelSerializer(serializers.Serializer):
    location = serializers.CharField(source="location.code")
    on_hand = serializers.IntegerField()
    committed = serializers.IntegerField()
    available = serializers.IntegerField()
    version = serializers.IntegerField()


class SkuDetailApi(APIView):
    required_permissions = {"GET": ("ledger.view_sku", "channels.view_listing")}

    @extend_schema(
        responses=inline_serializer(
            "SkuDetail",
            {
                "code": serializers.CharField(),
                "title": serializers.CharField(),
                "on_hand": serializers.IntegerField(),
                "committed": serializers.IntegerField(),
                "available": serializers.IntegerField(),
                "locations": LevelSerializer(many=True),
                "channels": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request: Request, code: str) -> Response:
        sku = sku_get(code)
        levels = sku_levels(sku=sku)
        on_hand = sum(level.on_hand for level in levels)
        committed = sum(level.committed for level in levels)
        return Response(
            {
                "code": sku.code,
                "title": sku.title,
                "barcode": sku.barcode,
                "attributes": sku.attributes,
                "on_hand": on_hand,
                "committed": committed,
                "available": on_hand - committed,
                "locations": LevelSerializer(levels, many=True).data,
                "channels": sku_channel_states(sku=sku),
            }
        )


class SkuBulkCreateApi(APIView):
    """A catalogue import: up to 10,000 SKUs in one call, all or nothing."""

    required_permissions = {"POST": "ledger.add_sku"}

    @extend_schema_serializer(component_name="SkuBulkCreate")
    class InputSerializer(serializers.Serializer):
        skus = SkuListApi.InputSerializer(many=True, allow_empty=False, max_length=10_000)

    @extend_schema(request=InputSerializer, responses={201: dict})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        skus = skus_create(items=data.validated_data["skus"])
        return Response(
            {"created": len(skus), "codes": [sku.code for sku in skus]},
            status=status.HTTP_201_CREATED,
        )


# --- locations --------------------------------------------------------------------------


class LocationListApi(ListAPIView):
    required_permissions = {"GET": "ledger.view_location", "POST": "ledger.add_location"}

    @extend_schema_serializer(component_name="Location")
    class OutputSerializer(serializers.ModelSerializer):
        class Meta:
            model = Location
            fields = ["code", "name", "priority", "is_default"]

    @extend_schema_serializer(component_name="LocationCreate")
    class InputSerializer(serializers.Serializer):
        code = Slug(max_length=50)
        name = Text(max_length=100)
        priority = serializers.IntegerField(min_value=0, max_value=1_000_000, default=100)

    serializer_class = OutputSerializer
    queryset = Location.objects.order_by("priority", "id")
    pagination_class = None

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        location = location_create(**data.validated_data)
        return Response(self.OutputSerializer(location).data, status=status.HTTP_201_CREATED)


# --- movements --------------------------------------------------------------------------


class MovementSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    location = serializers.CharField(source="location.code")

    class Meta:
        model = Movement
        fields = [
            "id",
            "sku",
            "location",
            "kind",
            "on_hand_delta",
            "committed_delta",
            "on_hand_after",
            "committed_after",
            "source",
            "reason",
            "recorded_at",
        ]


class MovementCreateApi(APIView):
    required_permissions = {"POST": "ledger.record_movement"}

    @extend_schema_serializer(component_name="MovementCreate")
    class InputSerializer(serializers.Serializer):
        sku = Text(max_length=100)
        location = Slug(max_length=50, required=False)
        to_location = Slug(
            max_length=50, required=False, help_text="Transfers only: the receiving location."
        )
        kind = serializers.ChoiceField(choices=MOVEMENT_KINDS)
        quantity = serializers.IntegerField(
            min_value=-MAX_QUANTITY,
            max_value=MAX_QUANTITY,
            help_text="count: the counted number; adjustment: a signed non-zero delta; "
            "others: a positive number of units.",
        )
        counted_at = serializers.DateTimeField(required=False, help_text="count only")
        reason = Text(max_length=500, required=False, allow_blank=True, default="")

    @extend_schema_serializer(component_name="StockOperation")
    class OutputSerializer(serializers.Serializer):
        operation = serializers.IntegerField(source="pk")
        kind = serializers.CharField()
        movements = MovementSerializer(many=True, source="movements.all")

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(404, 409)},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        origin = api_origin(request, reason=values["reason"])
        sku = sku_get(values["sku"])
        location = location_get(values.get("location"))
        to_location = values.get("to_location")
        try:
            operation = movement_record(
                kind=values["kind"],
                sku=sku,
                quantity=values["quantity"],
                location=location,
                to_location=location_get(to_location) if to_location else None,
                counted_at=values.get("counted_at"),
                origin=origin,
            )
        except InvalidOperation as exc:
            # The service's rule, shown like any other invalid field of the request.
            raise serializers.ValidationError(
                {exc.detail.get("field", "non_field_errors"): [exc.message]}
            ) from None
        return Response(
            self.OutputSerializer(operation).data,
            status=status.HTTP_201_CREATED,
            headers=replay_headers(operation),
        )


class ReceiptCreateApi(APIView):
    """A goods receipt with many lines (up to 10,000): one operation, all or nothing."""

    required_permissions = {"POST": "ledger.record_movement"}

    @extend_schema_serializer(component_name="ReceiptCreate")
    class InputSerializer(serializers.Serializer):
        class LineSerializer(serializers.Serializer):
            sku = Text(max_length=100)
            quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

        location = Slug(max_length=50, required=False)
        reason = Text(max_length=500, required=False, allow_blank=True, default="")
        lines = LineSerializer(many=True, allow_empty=False, max_length=10_000)

    @extend_schema(
        request=InputSerializer,
        responses={201: MovementCreateApi.OutputSerializer, **error_responses(404, 409)},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        skus = skus_by_code([line["sku"] for line in values["lines"]])
        operation = stock_receive_lines(
            lines=[(skus[line["sku"]], line["quantity"]) for line in values["lines"]],
            location=location_get(values.get("location")),
            origin=api_origin(request, reason=values["reason"]),
        )
        return Response(
            MovementCreateApi.OutputSerializer(operation).data,
            status=status.HTTP_201_CREATED,
            headers=replay_headers(operation),
        )


# --- reservations -----------------------------------------------------------------------


class ReservationSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")
    channel = serializers.CharField(source="channel_slug")
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Reservation
        fields = [
            "id",
            "sku",
            "quantity",
            "order_id",
            "channel",
            "status",
            "lines",
            "created_at",
            "closed_at",
        ]

    def get_lines(self, reservation) -> list[dict]:
        return [
            {"location": line.location.code, "quantity": line.quantity}
            for line in reservation.lines.select_related("location")
        ]


class ReservationCreateApi(APIView):
    required_permissions = {"POST": "ledger.add_reservation"}

    @extend_schema_serializer(component_name="ReservationCreate")
    class InputSerializer(serializers.Serializer):
        sku = Text(max_length=100)
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
        order_id = ExternalId()
        channel = Slug(max_length=50, required=False, allow_blank=True, default="")
        location = Slug(max_length=50, required=False)

    @extend_schema(
        request=InputSerializer,
        responses={201: ReservationSerializer, **error_responses(404, 409)},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        sku = sku_get(values["sku"])
        location = location_get(values["location"]) if values.get("location") else None
        locations = None
        if values["channel"]:
            locations = channel_locations(channel=channel_get(values["channel"]))
        reservation = stock_reserve(
            sku=sku,
            quantity=values["quantity"],
            order_id=values["order_id"],
            channel_slug=values["channel"],
            location=location,
            locations=locations,
            origin=api_origin(request),
        )
        return Response(ReservationSerializer(reservation).data, status=status.HTTP_201_CREATED)


def _reservation(pk: int) -> Reservation:
    try:
        return Reservation.objects.get(pk=pk)
    except Reservation.DoesNotExist:
        raise ReservationNotFound(f"No reservation {pk}.", reservation_id=pk) from None


class ReservationDetailApi(APIView):
    required_permissions = {"GET": "ledger.view_reservation"}

    @extend_schema(responses=ReservationSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ReservationSerializer(_reservation(pk)).data)


class ReservationReleaseApi(APIView):
    required_permissions = {"POST": "ledger.change_reservation"}

    service = staticmethod(reservation_release)

    @extend_schema(
        request=None,
        responses={200: ReservationSerializer, **error_responses(409)},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request: Request, pk: int) -> Response:
        reservation = self.service(reservation=_reservation(pk), origin=api_origin(request))
        return Response(ReservationSerializer(reservation).data)


class ReservationShipApi(ReservationReleaseApi):
    service = staticmethod(reservation_ship)


# --- incidents --------------------------------------------------------------------------


class IncidentListApi(ListAPIView):
    required_permissions = {"GET": "ledger.view_oversellincident"}

    @extend_schema_serializer(component_name="OversellIncident")
    class OutputSerializer(serializers.ModelSerializer):
        sku = serializers.CharField(source="sku.code")
        resolved_by = serializers.CharField(
            source="resolved_by.get_username", default=None, read_only=True
        )

        class Meta:
            model = OversellIncident
            fields = [
                "id",
                "sku",
                "status",
                "shortfall",
                "orders",
                "opened_at",
                "resolved_at",
                "resolution",
                "resolved_by",
            ]

    serializer_class = OutputSerializer

    def get_queryset(self):
        incidents = OversellIncident.objects.select_related("sku", "resolved_by").order_by(
            "-opened_at"
        )
        if status_filter := self.request.query_params.get("status"):
            incidents = incidents.filter(status=status_filter)
        return incidents


class IncidentResolveApi(APIView):
    required_permissions = {"POST": "ledger.resolve_oversellincident"}

    class InputSerializer(serializers.Serializer):
        resolution = Text(max_length=500, allow_blank=True, required=False)

    @extend_schema(
        request=InputSerializer,
        responses={200: IncidentListApi.OutputSerializer, **error_responses(409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = incident_resolve(
            incident_id=pk,
            resolution=data.validated_data.get("resolution", ""),
            actor=request.user,
        )
        return Response(IncidentListApi.OutputSerializer(incident).data)

"""Physical counts and reconcile runs under /api/v1/.

- `POST counts/preview/` and `counts/apply/`: a CSV (`sku,location,counted[,counted_at]`)
  as text/csv, a multipart `file` or JSON `{"csv": "..."}`, or JSON `{"lines": [...]}`.
  The preview changes nothing; apply takes an optional `Idempotency-Key` header (a retry
  returns the first result).
- `GET counts/` (filters `status`, `batch`): count lines; `POST counts/<id>/approve/` and
  `/reject/` with `{"note": "..."}` for the lines waiting for approval.
- `GET reconcile/runs/` (filters `channel`, `status`): the reconcile runs.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.parsers import BaseParser, FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels.models import CountLine, ReconcileRun
from channels.reconcile.counts import (
    count_apply,
    count_line_approve,
    count_line_dict,
    count_line_reject,
    count_lines_parse,
    count_preview,
)
from channels.reconcile.runs import reconcile_runs


class CsvParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return {"csv": stream.read().decode("utf-8-sig")}


class _CountInputApi(APIView):
    required_permissions = {"POST": "ledger.record_movement"}
    parser_classes = [JSONParser, MultiPartParser, FormParser, CsvParser]

    @staticmethod
    def _lines(request: Request):
        data = request.data
        upload = data.get("file")
        text = data.get("csv")
        if upload is not None and hasattr(upload, "read"):
            text = upload.read().decode("utf-8-sig")
        if text:
            return count_lines_parse(text=str(text))
        lines = data.get("lines")
        if not isinstance(lines, list):
            raise serializers.ValidationError(
                {"lines": "Send the count as CSV (text/csv, a file, or csv) or as lines."}
            )
        return count_lines_parse(lines=lines)


class CountPreviewApi(_CountInputApi):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request) -> Response:
        return Response({"lines": count_preview(lines=self._lines(request))})


class CountApplyApi(_CountInputApi):
    @extend_schema(request=None, responses={200: dict})
    def post(self, request: Request) -> Response:
        lines = self._lines(request)
        key = request.headers.get("Idempotency-Key", "")
        return Response(count_apply(lines=lines, actor=request.user, batch=key))


class CountLineSerializer(serializers.Serializer):
    def to_representation(self, instance: CountLine) -> dict:
        return count_line_dict(instance)


class CountLineListApi(ListAPIView):
    required_permissions = {"GET": "channels.view_countline"}
    serializer_class = CountLineSerializer

    def get_queryset(self):
        rows = CountLine.objects.select_related("sku", "location", "decided_by").order_by("-id")
        params = self.request.query_params
        if params.get("status"):
            rows = rows.filter(status=params["status"])
        if params.get("batch"):
            rows = rows.filter(batch=params["batch"])
        return rows


class CountDecisionInput(serializers.Serializer):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class CountLineDecisionApi(APIView):
    """A person's decision on a count line above the auto-fix thresholds."""

    required_permissions = {"POST": "channels.decide_drift"}
    action = "approve"

    @extend_schema(request=CountDecisionInput, responses={200: dict})
    def post(self, request: Request, pk: int) -> Response:
        data = CountDecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        decide = count_line_approve if self.action == "approve" else count_line_reject
        row = decide(pk=pk, actor=request.user, note=data.validated_data["note"])
        return Response(count_line_dict(row))


class ReconcileRunSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.slug")

    class Meta:
        model = ReconcileRun
        fields = [
            "id",
            "channel",
            "full",
            "dry_run",
            "trigger",
            "status",
            "started_at",
            "finished_at",
            "listings_total",
            "listings_checked",
            "pending_skipped",
            "drift_found",
            "drift_resolved",
            "auto_corrected",
            "escalated",
            "not_on_channel",
            "discovered",
            "errors",
            "error_messages",
            "resumed",
        ]


class ReconcileRunListApi(ListAPIView):
    required_permissions = {"GET": "channels.view_reconcilerun"}
    serializer_class = ReconcileRunSerializer

    def get_queryset(self):
        params = self.request.query_params
        return reconcile_runs(channel=params.get("channel", ""), status=params.get("status", ""))

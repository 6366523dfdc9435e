"""Routes under /api/v1/."""

from django.urls import path

from . import channels as channel_api
from . import reconcile as reconcile_api
from . import stock as stock_api

urlpatterns = [
    path("skus/", stock_api.SkuListApi.as_view(), name="sku-list"),
    path("skus/bulk/", stock_api.SkuBulkCreateApi.as_view(), name="sku-bulk-create"),
    path("skus/<str:code>/", stock_api.SkuDetailApi.as_view(), name="sku-detail"),
    path("locations/", stock_api.LocationListApi.as_view(), name="location-list"),
    path("movements/", stock_api.MovementCreateApi.as_view(), name="movement-create"),
    path("receipts/", stock_api.ReceiptCreateApi.as_view(), name="receipt-create"),
    path("reservations/", stock_api.ReservationCreateApi.as_view(), name="reservation-create"),
    path(
        "reservations/<int:pk>/",
        stock_api.ReservationDetailApi.as_view(),
        name="reservation-detail",
    ),
    path(
        "reservations/<int:pk>/release/",
        stock_api.ReservationReleaseApi.as_view(),
        name="reservation-release",
    ),
    path(
        "reservations/<int:pk>/ship/",
        stock_api.ReservationShipApi.as_view(),
        name="reservation-ship",
    ),
    path("incidents/", stock_api.IncidentListApi.as_view(), name="incident-list"),
    path(
        "incidents/<int:pk>/resolve/",
        stock_api.IncidentResolveApi.as_view(),
        name="incident-resolve",
    ),
    path("channels/", channel_api.ChannelListApi.as_view(), name="channel-list"),
    path("channels/<slug:slug>/", channel_api.ChannelDetailApi.as_view(), name="channel-detail"),
    path(
        "channels/<slug:slug>/allocations/",
        channel_api.AllocationOverrideApi.as_view(),
        name="channel-allocations",
    ),
    path(
        "channels/<slug:slug>/allocations/<str:sku>/",
        channel_api.AllocationOverrideDetailApi.as_view(),
        name="channel-allocation-detail",
    ),
    path(
        "channels/<slug:slug>/listings/",
        channel_api.ListingListApi.as_view(),
        name="channel-listings",
    ),
    path("listings/import/", channel_api.ListingImportApi.as_view(), name="listing-import"),
    path("listings/export/", channel_api.ListingExportApi.as_view(), name="listing-export"),
    path("outbox/", channel_api.OutboxListApi.as_view(), name="outbox-list"),
    path("dlq/", channel_api.DlqListApi.as_view(), name="dlq-list"),
    path("dlq/retry/", channel_api.DlqBulkActionApi.as_view(action="retry"), name="dlq-bulk-retry"),
    path(
        "dlq/discard/",
        channel_api.DlqBulkActionApi.as_view(action="discard"),
        name="dlq-bulk-discard",
    ),
    path(
        "dlq/<int:pk>/retry/",
        channel_api.DlqEntryActionApi.as_view(action="retry"),
        name="dlq-retry",
    ),
    path(
        "dlq/<int:pk>/discard/",
        channel_api.DlqEntryActionApi.as_view(action="discard"),
        name="dlq-discard",
    ),
    path("drift/", channel_api.DriftListApi.as_view(), name="drift-list"),
    path("drift/<int:pk>/approve/", channel_api.DriftApproveApi.as_view(), name="drift-approve"),
    path("drift/<int:pk>/reject/", channel_api.DriftRejectApi.as_view(), name="drift-reject"),
    path("audit/", channel_api.AuditApi.as_view(), name="audit"),
    path("counts/", reconcile_api.CountLineListApi.as_view(), name="count-list"),
    path("counts/preview/", reconcile_api.CountPreviewApi.as_view(), name="count-preview"),
    path("counts/apply/", reconcile_api.CountApplyApi.as_view(), name="count-apply"),
    path(
        "counts/<int:pk>/approve/",
        reconcile_api.CountLineDecisionApi.as_view(action="approve"),
        name="count-approve",
    ),
    path(
        "counts/<int:pk>/reject/",
        reconcile_api.CountLineDecisionApi.as_view(action="reject"),
        name="count-reject",
    ),
    path("reconcile/runs/", reconcile_api.ReconcileRunListApi.as_view(), name="reconcile-runs"),
]

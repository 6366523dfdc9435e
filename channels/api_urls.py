"""Channel routes under /api/v1/."""

from django.urls import path

from . import api

urlpatterns = [
    path("channels/", api.ChannelListApi.as_view(), name="channel-list"),
    path("channels/<slug:slug>/", api.ChannelDetailApi.as_view(), name="channel-detail"),
    path(
        "channels/<slug:slug>/allocations/",
        api.AllocationOverrideApi.as_view(),
        name="channel-allocations",
    ),
    path(
        "channels/<slug:slug>/allocations/<str:sku>/",
        api.AllocationOverrideDetailApi.as_view(),
        name="channel-allocation-detail",
    ),
    path("channels/<slug:slug>/listings/", api.ListingListApi.as_view(), name="channel-listings"),
    path("listings/import/", api.ListingImportApi.as_view(), name="listing-import"),
    path("listings/export/", api.ListingExportApi.as_view(), name="listing-export"),
    path("outbox/", api.OutboxListApi.as_view(), name="outbox-list"),
    path("dlq/", api.DlqListApi.as_view(), name="dlq-list"),
    path("dlq/retry/", api.DlqBulkActionApi.as_view(action="retry"), name="dlq-bulk-retry"),
    path("dlq/discard/", api.DlqBulkActionApi.as_view(action="discard"), name="dlq-bulk-discard"),
    path("dlq/<int:pk>/retry/", api.DlqEntryActionApi.as_view(action="retry"), name="dlq-retry"),
    path(
        "dlq/<int:pk>/discard/", api.DlqEntryActionApi.as_view(action="discard"), name="dlq-discard"
    ),
    path("drift/", api.DriftListApi.as_view(), name="drift-list"),
    path("drift/<int:pk>/approve/", api.DriftApproveApi.as_view(), name="drift-approve"),
    path("drift/<int:pk>/reject/", api.DriftRejectApi.as_view(), name="drift-reject"),
    path("audit/", api.AuditApi.as_view(), name="audit"),
]

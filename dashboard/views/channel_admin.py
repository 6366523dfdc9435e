"""Channels in the browser: create and edit (with the settings of the channel's kind),
the webhook URL to paste into the channel, secret rotation, "test connection" and
enable/disable. Each write is one call to channels.services with `actor=request.user`;
the service's refusals (a bad setting, a role that may not change endpoints) are shown
in the form. Endpoint fields (base URL, the kind's settings, credentials, secrets) are
shown only to people with `channels.manage_channel_endpoints`; the service decides."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from channels.health import channel_connection_test
from channels.models import Channel, ChannelKind
from channels.propagation.attention import channel_try_again as channel_try_again_service
from channels.services import channel_create, channel_previous_secret_forget, channel_update
from channels.webhooks.signing import make_standard_secret
from foundation.crypto import masked
from foundation.errors import DomainError
from foundation.permissions import requires
from ledger.selectors import location_choices

from ..forms import ChannelForm, channel_form_initial
from .common import NOT_ACCEPTED

ENDPOINTS = "channels.manage_channel_endpoints"


def _channel_or_404(slug: str) -> Channel:
    channel = Channel.objects.filter(slug=slug).first()
    if channel is None:
        raise Http404(f"No channel with slug {slug!r}.")
    return channel


def _refusal_status(exc: DomainError) -> int:
    return 403 if getattr(exc, "http_status", 400) == 403 else NOT_ACCEPTED


def webhook_url(request: HttpRequest, channel: Channel) -> str:
    return request.build_absolute_uri(f"/webhooks/{channel.slug}/")


def _form_context(form: ChannelForm, *, channel: Channel | None) -> dict:
    kinds = [channel.kind] if channel else [value for value, _ in ChannelKind.choices]
    # Credentials are write-only: the form shows the stored value's last characters.
    hints = {
        key: masked(str(value))
        for key, value in ((channel.credentials or {}) if channel else {}).items()
    }
    groups = []
    for kind in kinds if form.endpoints else []:
        group = form.kind_fields(kind)
        group["credentials"] = [(field, hints.get(key, "")) for field, key in group["credentials"]]
        groups.append(group)
    return {"form": form, "channel": channel, "kind_groups": groups}


def new_webhook_secret(kind: str) -> str:
    """A secret the channel's kind can sign with: Standard Webhooks (storefronts, the
    sandbox) want `whsec_` and base64; the others take any long random text."""
    if kind in (ChannelKind.STANDARD, ChannelKind.SANDBOX):
        return make_standard_secret()
    return secrets.token_urlsafe(32)


@requires({"GET": ("channels.add_channel", ENDPOINTS), "POST": ("channels.add_channel", ENDPOINTS)})
@require_http_methods(["GET", "POST"])
def channel_new(request: HttpRequest) -> HttpResponse:
    locations = location_choices()
    form = ChannelForm(
        request.POST or None,
        locations=locations,
        endpoints=True,
        initial={"enabled": True, "kind": ChannelKind.SHOPIFY, "reconcile_interval_minutes": 15},
    )
    status = 200
    if request.method == "POST":
        status = NOT_ACCEPTED
        if form.is_valid():
            values = form.service_values()
            fresh_secret = (
                "" if values.get("webhook_secret") else new_webhook_secret(values["kind"])
            )
            if fresh_secret:
                values["webhook_secret"] = fresh_secret
            try:
                channel = channel_create(**values, actor=request.user)
            except DomainError as exc:
                form.show_refusal(exc)
                status = _refusal_status(exc)
            else:
                messages.success(
                    request,
                    f"Created {channel.name}: every SKU is listed on it and its first pushes are "
                    "queued. Paste the webhook URL and secret below into the channel's "
                    "settings so its orders reach the hub.",
                )
                if fresh_secret:
                    request.session[f"new-secret:{channel.slug}"] = fresh_secret
                return redirect("dashboard:channel", slug=channel.slug)
    return render(
        request, "dashboard/channel_form.html", _form_context(form, channel=None), status=status
    )


@requires({"GET": "channels.change_channel", "POST": "channels.change_channel"})
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, slug: str) -> HttpResponse:
    channel = _channel_or_404(slug)
    endpoints = request.user.has_perm(ENDPOINTS)
    form = ChannelForm(
        request.POST or None,
        channel=channel,
        locations=location_choices(),
        endpoints=endpoints,
        initial=channel_form_initial(channel),
    )
    status = 200
    if request.method == "POST":
        status = NOT_ACCEPTED
        if form.is_valid():
            try:
                channel_update(channel=channel, actor=request.user, **form.service_values())
            except DomainError as exc:
                form.show_refusal(exc)
                status = _refusal_status(exc)
            else:
                messages.success(request, f"Saved {form.cleaned_data['name']}.")
                return redirect("dashboard:channel", slug=channel.slug)
    return render(
        request, "dashboard/channel_form.html", _form_context(form, channel=channel), status=status
    )


def panel_context(request: HttpRequest, channel: Channel, **extra) -> dict:
    """What the channel page's connection panel shows (webhook URL, secret, enabled,
    test connection)."""
    return {
        "channel": channel,
        "webhook_url": webhook_url(request, channel),
        "secret_hint": masked(channel.webhook_secret),
        "has_previous_secret": bool(channel.previous_webhook_secret),
        "may_change": request.user.has_perm("channels.change_channel"),
        "may_endpoints": request.user.has_perm(ENDPOINTS),
        **extra,
    }


def _panel(request: HttpRequest, channel: Channel, *, status: int = 200, **extra) -> HttpResponse:
    return render(
        request,
        "dashboard/channel_detail.html#connection",
        panel_context(request, channel, **extra),
        status=status,
    )


@requires({"POST": "channels.change_channel"})
@require_POST
def channel_test(request: HttpRequest, slug: str) -> HttpResponse:
    """A read through the channel's adapter; the result replaces the panel in place."""
    channel = _channel_or_404(slug)
    return _panel(request, channel, test=channel_connection_test(channel=channel))


@requires({"POST": "channels.change_channel"})
@require_POST
def channel_enable(request: HttpRequest, slug: str) -> HttpResponse:
    channel = _channel_or_404(slug)
    enabled = request.POST.get("enabled") == "1"
    try:
        channel = channel_update(channel=channel, enabled=enabled, actor=request.user)
    except DomainError as exc:
        return _panel(
            request, channel, notice=exc.message, notice_error=True, status=_refusal_status(exc)
        )
    notice = (
        f"{channel.name} is enabled: every listing is pushed again now."
        if enabled
        else f"{channel.name} is disabled: nothing is pushed to it until you enable it again."
    )
    if not request.htmx:
        messages.success(request, notice)
        return redirect("dashboard:channel", slug=channel.slug)
    return _panel(request, channel, notice=notice)


@requires({"POST": "channels.change_channel"})
@require_POST
def channel_try_again(request: HttpRequest, slug: str) -> HttpResponse:
    """The merchant says what the channel needed is done: pushes resume (and the next
    push tells if it is not)."""
    channel = channel_try_again_service(channel=_channel_or_404(slug), actor=request.user)
    notice = f"Pushes to {channel.name} resume now."
    if not request.htmx:
        messages.success(request, notice)
        return redirect("dashboard:channel", slug=channel.slug)
    return render(
        request,
        "dashboard/channel_detail.html#needs_action",
        {"channel": channel, "notice_try_again": notice, "may_change": True},
    )


@requires({"POST": ENDPOINTS})
@require_POST
def channel_secret(request: HttpRequest, slug: str) -> HttpResponse:
    """`action=rotate`: a new webhook secret, shown once; the old one is kept as the
    previous secret (still accepted) until `action=forget_previous` removes it."""
    channel = _channel_or_404(slug)
    action = request.POST.get("action")
    try:
        if action == "rotate":
            new = new_webhook_secret(channel.kind)
            channel = channel_update(channel=channel, webhook_secret=new, actor=request.user)
            return _panel(
                request,
                channel,
                new_secret=new,
                notice="A new webhook secret is in place. Paste it into the channel now: it is "
                "shown only this once. Deliveries signed with the old secret are still "
                "accepted until you remove it.",
            )
        if action == "forget_previous":
            channel = channel_previous_secret_forget(channel=channel, actor=request.user)
            return _panel(
                request,
                channel,
                notice="The previous secret is removed: only the current one is accepted now.",
            )
    except DomainError as exc:
        return _panel(
            request, channel, notice=exc.message, notice_error=True, status=_refusal_status(exc)
        )
    return _panel(
        request, channel, notice="Choose rotate or remove.", notice_error=True, status=NOT_ACCEPTED
    )

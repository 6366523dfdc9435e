"""A channel's allocation: its default rule and buffers, per-SKU overrides, and a live
preview of the published quantities as you type (htmx; nothing is saved until Save).
The preview uses channels.allocation.published_quantity, the pure function the hub
publishes with; saving is one call to allocation_rule_set (or _delete), which
republishes and audits."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from channels.allocation import POOL, Rule, published_quantity
from channels.models import AllocationMode, Channel
from channels.services import allocation_rule_delete, allocation_rule_set
from foundation.errors import DomainError
from foundation.permissions import requires
from ledger.errors import SkuNotFound
from ledger.services import sku_get

from ..forms import RuleForm
from ..selectors import channel_default_rule, channel_overrides, channel_preview_listings
from .common import NOT_ACCEPTED

PREVIEW_ROWS = 25


def _channel_or_404(slug: str) -> Channel:
    channel = Channel.objects.filter(slug=slug).first()
    if channel is None:
        raise Http404(f"No channel with slug {slug!r}.")
    return channel


def _initial(rule) -> dict:
    rule = rule or POOL
    return {
        "mode": rule.mode,
        "share_percent": Decimal(rule.share_percent).normalize(),
        "fixed_quantity": rule.fixed_quantity,
        "buffer_units": rule.buffer_units,
        "buffer_percent": Decimal(rule.buffer_percent).normalize(),
    }


def _preview(channel: Channel, rule: Rule | None, *, sku=None) -> dict:
    """What each shown listing would publish under `rule` (None: the rules as saved),
    beside what it publishes now. A SKU with an override keeps it under a new default."""
    listings = channel_preview_listings(channel=channel, limit=PREVIEW_ROWS, sku=sku)
    default = channel_default_rule(channel=channel)
    rows, changed = [], 0
    for listing in listings:
        saved = Rule.of(listing.override or default) if (listing.override or default) else POOL
        if rule is None:
            proposed = saved
        elif sku is None and listing.override is not None:
            proposed = saved  # the override still applies
        else:
            proposed = rule
        after = published_quantity(listing.available, proposed)
        changed += after != listing.published
        rows.append(
            {
                "sku": listing.sku,
                "available": listing.available,
                "now": listing.published,
                "after": after,
                "diff": after - listing.published,
                "override": listing.override is not None,
            }
        )
    return {"rows": rows, "changed": changed}


def _context(
    channel: Channel, *, form: RuleForm, override_form: RuleForm | None = None, **extra
) -> dict:
    proposed = None
    if form.is_bound and form.is_valid():
        proposed = Rule(**form.rule_values())
    return {
        "channel": channel,
        "form": form,
        "override_form": override_form
        or RuleForm(prefix="o", initial={"mode": AllocationMode.POOL}),
        "overrides": channel_overrides(channel=channel),
        "preview": _preview(channel, proposed),
        "modes": AllocationMode.choices,
        "preview_rows": PREVIEW_ROWS,
        **extra,
    }


@requires({"GET": "channels.view_allocationrule", "POST": "channels.change_allocationrule"})
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def allocation(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the rule, the overrides and the preview. POST: save the default rule."""
    channel = _channel_or_404(slug)
    if request.method == "GET":
        form = RuleForm(initial=_initial(channel_default_rule(channel=channel)))
        return render(request, "dashboard/allocation.html", _context(channel, form=form))
    form = RuleForm(request.POST)
    status = NOT_ACCEPTED
    if form.is_valid():
        try:
            rule = allocation_rule_set(
                channel=channel, sku=None, values=form.rule_values(), actor=request.user
            )
        except DomainError as exc:
            field = exc.detail.get("field")
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            notice = (
                f"Saved the default rule of {channel.name}; its listings are republished and "
                "the changed quantities are being pushed."
            )
            if not request.htmx:
                messages.success(request, notice)
                return redirect("dashboard:allocation", slug=channel.slug)
            form = RuleForm(initial=_initial(rule))
            return render(
                request,
                "dashboard/allocation.html#rule_section",
                _context(channel, form=form, notice=notice),
            )
    template = "dashboard/allocation.html" + ("#rule_section" if request.htmx else "")
    return render(request, template, _context(channel, form=form), status=status)


@requires({"GET": "channels.view_allocationrule"})
def allocation_preview(request: HttpRequest, slug: str) -> HttpResponse:
    """The preview table for the rule as typed (nothing is saved). With `sku`, one SKU's
    line for an override."""
    channel = _channel_or_404(slug)
    prefix = "o" if request.GET.get("scope") == "override" else None
    form = RuleForm(request.GET, prefix=prefix)
    sku = None
    sku_error = ""
    if prefix:
        code = request.GET.get("o-sku", "").strip()
        if code:
            try:
                sku = sku_get(code[:200])
            except SkuNotFound as exc:
                sku_error = exc.message
        else:
            sku_error = "Type a SKU code to see what it would publish."
    if sku_error:
        return render(
            request,
            "dashboard/allocation.html#preview_table",
            {"preview_error": sku_error, "scope": "o"},
        )
    if not form.is_valid():
        messages_ = [str(error) for errors in form.errors.values() for error in errors]
        return render(
            request,
            "dashboard/allocation.html#preview_table",
            {"preview_error": " ".join(messages_), "scope": prefix or "default"},
        )
    preview = _preview(channel, Rule(**form.rule_values()), sku=sku)
    return render(
        request,
        "dashboard/allocation.html#preview_table",
        {
            "preview": preview,
            "scope": prefix or "default",
            "preview_rows": PREVIEW_ROWS,
            "proposed": True,
        },
    )


@requires({"POST": ("channels.add_allocationrule", "channels.change_allocationrule")})
@require_POST
def override_save(request: HttpRequest, slug: str) -> HttpResponse:
    channel = _channel_or_404(slug)
    form = RuleForm(request.POST, prefix="o")
    code = request.POST.get("o-sku", "").strip()
    sku = None
    if form.is_valid():
        if not code:
            form.add_error(None, "Type the code of the SKU this override is for.")
        else:
            try:
                sku = sku_get(code[:200])
            except SkuNotFound as exc:
                form.add_error(None, exc.message)
    if sku is not None and not form.errors:
        try:
            allocation_rule_set(
                channel=channel, sku=sku, values=form.rule_values(), actor=request.user
            )
        except DomainError as exc:
            field = exc.detail.get("field")
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            notice = (
                f"Saved the override for {sku.code}; its quantity on {channel.name} is republished."
            )
            if not request.htmx:
                messages.success(request, notice)
                return redirect("dashboard:allocation", slug=channel.slug)
            return _overrides(request, channel, notice=notice)
    if not request.htmx:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("dashboard:allocation", slug=channel.slug)
    return _overrides(request, channel, override_form=form, override_sku=code, status=NOT_ACCEPTED)


def _overrides(
    request: HttpRequest, channel: Channel, *, status: int = 200, **extra
) -> HttpResponse:
    form = RuleForm(initial=_initial(channel_default_rule(channel=channel)))
    return render(
        request,
        "dashboard/allocation.html#override_section",
        _context(channel, form=form, **extra),
        status=status,
    )


@requires({"POST": "channels.delete_allocationrule"})
@require_POST
def override_delete(request: HttpRequest, slug: str, code: str) -> HttpResponse:
    channel = _channel_or_404(slug)
    try:
        sku = sku_get(code)
        allocation_rule_delete(channel=channel, sku=sku, actor=request.user)
    except DomainError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return redirect("dashboard:allocation", slug=channel.slug)
        return _overrides(request, channel, override_notice_error=exc.message, status=NOT_ACCEPTED)
    notice = f"Removed the override for {sku.code}: the default rule applies to it again."
    if not request.htmx:
        messages.success(request, notice)
        return redirect("dashboard:allocation", slug=channel.slug)
    return _overrides(request, channel, notice=notice)

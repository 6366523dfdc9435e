"""The dead-letter queue: pushes that kept failing, why (in words, the raw answer behind
a disclosure), and what a person does with them: retry or discard, one entry, a selection
or every entry of a channel. Each action is one call to channels.propagation.dlq, which
audits it with the person who took it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from channels.propagation.dlq import dlq_discard, dlq_retry
from foundation.permissions import requires

from ..selectors import dlq_channel_counts, dlq_rows, dlq_selected
from ..wording import push_error_in_words
from .common import NOT_ACCEPTED, PAGE_SIZE, wants_partial

ACTIONS = {
    "retry": (dlq_retry, "Retried", "they are pending again with the newest quantity"),
    "discard": (dlq_discard, "Discarded", "they stay in the log and will not be pushed"),
}


@requires({"GET": "channels.view_outboxentry"})
@vary_on_headers("HX-Request")
def dlq(request: HttpRequest) -> HttpResponse:
    return _render(request, channel=request.GET.get("channel", "")[:50])


def _render(
    request: HttpRequest,
    *,
    channel: str,
    notice: str = "",
    notice_error: bool = False,
    status: int = 200,
) -> HttpResponse:
    page = Paginator(dlq_rows(channel=channel), PAGE_SIZE).get_page(
        request.GET.get("page") or request.POST.get("page")
    )
    rows = list(page.object_list)
    for entry in rows:
        entry.error_words = push_error_in_words(entry.last_error)
    context = {
        "page": page,
        "rows": rows,
        "channel": channel,
        "channels": dlq_channel_counts(),
        "pager_query": f"{urlencode({'channel': channel})}&" if channel else "",
        "notice": notice,
        "notice_error": notice_error,
        "may_act": request.user.has_perm("channels.act_on_dlq"),
    }
    template_name = "dashboard/dlq.html"
    if wants_partial(request):
        template_name += "#dlq_rows"
    return render(request, template_name, context, status=status)


@requires({"POST": "channels.act_on_dlq"})
@require_POST
def dlq_act(request: HttpRequest) -> HttpResponse:
    """`act` is "<retry|discard>:<what>": an entry id, "selected" (the ticked `ids`) or
    "channel" (every dead entry of `scope_channel`)."""
    action, _, what = request.POST.get("act", "").partition(":")
    channel = request.POST.get("channel", "")[:50]
    if action not in ACTIONS:
        return _refuse(request, channel, "Choose retry or discard.")
    if what == "selected":
        ids = [int(pk) for pk in request.POST.getlist("ids") if pk.isdigit()]
        if not ids:
            return _refuse(
                request, channel, "Tick at least one entry first, then choose the action."
            )
        entries = dlq_selected(ids=ids)
    elif what == "channel":
        scope = request.POST.get("scope_channel", "")[:50]
        if not scope:
            return _refuse(request, channel, "Choose the channel whose entries to act on.")
        entries = dlq_selected(ids=[], channel=scope)
    elif what.isdigit():
        entries = dlq_selected(ids=[int(what)])
    else:
        return _refuse(request, channel, "Choose an entry, a selection or a channel.")
    service, verb, after = ACTIONS[action]
    done = service(entries=entries, actor=request.user) if entries else 0
    if done:
        notice = f"{verb} {done} entr{'y' if done == 1 else 'ies'}: {after}."
    else:
        notice = (
            "Nothing to do: those entries were already retried or discarded (perhaps by "
            "someone else a moment ago)."
        )
    if not request.htmx:
        messages.success(request, notice)
        return redirect(f"{request.path.rsplit('act/', 1)[0]}?{urlencode({'channel': channel})}")
    return _render(request, channel=channel, notice=notice)


def _refuse(request: HttpRequest, channel: str, message: str) -> HttpResponse:
    if not request.htmx:
        messages.error(request, message)
        return redirect(f"{request.path.rsplit('act/', 1)[0]}?{urlencode({'channel': channel})}")
    return _render(request, channel=channel, notice=message, notice_error=True, status=NOT_ACCEPTED)

"""Test 5, audit trail: "what happened to SKU X", answered from the audit trail the
dashboard and `GET /api/v1/audit/?sku=` show (`channels.selectors.sku_audit_trail`),
with every step of the earlier tests in order: the channel's inbound event, the
movement it caused, the pushes (failed ones too), the confirmations, and the decisions
(a person retrying the dead-letter queue)."""

from __future__ import annotations

from channels.selectors import sku_audit_trail
from ledger.models import Movement, Sku

from . import Result

NAME = "audit"
TITLE = "Audit trail"

# Which trail entries answer which step.
STEPS = {
    "inbound event": {"inbound_event"},
    "movement": {"movement"},
    "push": {"fail", "dead", "confirm"},
    "confirmation": {"confirm"},
    "decision": {"retry", "discard", "drift"},
}


def pick_sku(ctx) -> Sku | None:
    code = (
        ctx.opts.audit_sku
        or ctx.state.get("audit_sku")
        or ctx.state.get("race_sku")
        or ctx.state.get("bulk_sku")
    )
    if code:
        return Sku.objects.filter(code_key=code.lower()).first()
    if ctx.real:
        # The SKU that moved last on the chosen channels.
        moved = (
            Movement.objects.filter(source_ref__startswith=f"{ctx.opts.channels[0]}:")
            .order_by("-id")
            .values_list("sku_id", flat=True)
            .first()
        )
        return Sku.objects.filter(pk=moved).first() if moved else None
    return None


def follow(trail: list[dict], *, sale: bool = True) -> dict[str, int]:
    """Index (in the oldest-first trail) of each step of one sale: the first inbound
    event, the movement that event caused, the first push and confirmation after it, and
    the first decision. Without a sale (a receipt on the merchant's stores, where certify
    places no order) the chain starts at the first movement."""
    found: dict[str, int] = {}
    if not sale:
        first = next((i for i, e in enumerate(trail) if e["type"] == "movement"), None)
        if first is not None:
            found["movement"] = first
            for step in ("push", "confirmation"):
                after = next(
                    (i for i, e in enumerate(trail[first:], first) if e["type"] in STEPS[step]),
                    None,
                )
                if after is not None:
                    found[step] = after
        return found
    event = next((i for i, e in enumerate(trail) if e["type"] == "inbound_event"), None)
    if event is not None:
        found["inbound event"] = event
        event_id = trail[event]["data"].get("event_id")
        caused = next(
            (
                i
                for i, e in enumerate(trail)
                if e["type"] == "movement" and e["data"].get("inbound_event_id") == event_id
            ),
            None,
        )
        if caused is not None:
            found["movement"] = caused
            for step in ("push", "confirmation"):
                after = next(
                    (i for i, e in enumerate(trail[caused:], caused) if e["type"] in STEPS[step]),
                    None,
                )
                if after is not None:
                    found[step] = after
    decision = next((i for i, e in enumerate(trail) if e["type"] in STEPS["decision"]), None)
    if decision is not None:
        found["decision"] = decision
    return found


def run(ctx) -> Result:
    result = Result(
        NAME,
        TITLE,
        '"what happened to SKU X" from the audit trail: inbound event, movement, push, '
        "confirmation, decision, in order",
    )
    sku = pick_sku(ctx)
    if sku is None:
        return result.skip(
            "no SKU to follow: run it with the recovery test (its SKU has every step), or "
            "name one with --audit-sku"
        )
    ctx.progress.begin(NAME, len(STEPS), f"what happened to {sku.code}")
    since = None if ctx.ws is None else ctx.ws.started_at
    trail = [e for e in reversed(sku_audit_trail(sku=sku)) if since is None or e["at"] >= since]
    # The bulk test's SKU on the merchant's stores was received, not sold: no order was
    # placed (certify cannot), so there is no inbound event, and no DLQ decision.
    sale = not (ctx.real and ctx.state.get("bulk_sku") == sku.code)
    first = follow(trail, sale=sale)
    ctx.progress.update(len(first))
    steps = list(STEPS) if sale else ["movement", "push", "confirmation"]
    missing = [step for step in steps if step not in first]
    if not sale:
        result.measures = (
            '"what happened to SKU X" from the audit trail: the receipt\'s movement, push, '
            "confirmation, in order"
        )
        result.reasons.append(
            f"note: {sku.code} was received by the bulk test, not sold (certify places no "
            "order on a merchant's store): its chain is movement, push, confirmation"
        )
    if sale and "decision" in missing and not ctx.state.get("audit_sku"):
        # Only the recovery test's DLQ retry makes a decision; a shorter fault has none.
        missing.remove("decision")
        result.reasons.append(
            "note: no decision in this run (nothing reached the DLQ), so none was looked for"
        )
    result.require(
        "every step is in the trail",
        not missing,
        ", ".join(step for step in STEPS if step in first)
        if not missing
        else f"missing: {', '.join(missing)}",
    )
    links = ["inbound event", "movement", "push", "confirmation"] if sale else steps
    chain = [step for step in links if step in first]
    in_order = [first[s] for s in chain] == sorted(first[s] for s in chain)
    result.require(
        "in order: the inbound event, the movement it caused, the pushes, the confirmation"
        if sale
        else "in order: the receipt's movement, the pushes, the confirmation",
        in_order and len(chain) == len(links),
        " -> ".join(f"{s} (#{first[s] + 1})" for s in chain),
    )
    if "decision" in first:
        confirmed_after = any(e["type"] == "confirm" for e in trail[first["decision"] :])
        result.require(
            "a confirmation follows the decision",
            confirmed_after,
            "yes" if confirmed_after else "no confirmation after the DLQ retry",
        )
    result.figures = {
        "sku": sku.code,
        "entries": len(trail),
        "steps_found": {step: trail[i]["type"] for step, i in first.items()},
        "channels": sorted({e["channel"] for e in trail if e.get("channel")}),
        "summary": f"{sku.code}: {len(trail)} entries; "
        + ("every step in order" if not missing and in_order else f"missing {missing}"),
    }
    result.detail["trail"] = [
        {
            "at": entry["at"].isoformat(),
            "type": entry["type"],
            "channel": entry.get("channel"),
            "summary": entry["summary"],
        }
        for entry in trail[:200]
    ]
    return result

"""The investigator: one job, "do I understand why these numbers disagree?".

`RuleInvestigator` (the default) explains itself in plain language from the evidence
(`evidence.py`). `ModelInvestigator` asks an OpenAI-compatible chat endpoint the merchant
runs for a verdict in a strict JSON schema, and falls back to the rules when the server
is unreachable, slow, or answers outside the schema. Neither decides anything: the hub's
gate (`decisions.py`) does, from the verdict's confidence and the drift's size.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Protocol

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    understood: bool
    confidence: float
    reasoning: str
    investigator: str


class Investigator(Protocol):
    name: str

    def investigate(self, evidence: dict) -> Verdict: ...


def _units(n: int) -> str:
    return f"{n} unit" if abs(n) == 1 else f"{n} units"


class RuleInvestigator:
    """Reads the evidence in order of how much each fact explains, and says which one
    it went by. Confidence is high only where re-pushing the hub's number is what the
    evidence asks for (our own push was lost, died or is still on its way)."""

    name = "rules"

    def investigate(self, evidence: dict) -> Verdict:
        expected, observed = evidence["expected"], evidence["observed"]
        delta = observed - expected
        gap = (
            f"The channel shows {observed} where the hub publishes {expected} "
            f"({'+' if delta > 0 else ''}{delta})."
        )
        understood, confidence, why = self._explain(evidence, delta)
        earlier = evidence.get("drifted_before_30d") or 0
        if earlier >= 3:
            confidence = min(confidence, 0.6)
            why += (
                f" This listing drifted {earlier} times in 30 days: a recurring cause that a "
                "person should find, so the hub does not correct it on its own."
            )
        return Verdict(understood, round(confidence, 2), f"{gap} {why}", self.name)

    @staticmethod
    def _explain(evidence: dict, delta: int) -> tuple[bool, float, str]:
        pending = evidence.get("pending_push")
        if pending:
            return (
                True,
                0.95,
                f"A push of {pending['quantity']} is {pending['status'].replace('_', ' ')} "
                "since " + str(pending["since"]) + "; the channel will show it once it lands.",
            )
        if evidence.get("unprocessed_events"):
            return (
                False,
                0.3,
                "Deliveries from this channel that mention the SKU are not processed yet; "
                "the hub's own number may still move. Left for a person (or the next run).",
            )
        dead = evidence.get("dead_push")
        if dead and dead["quantity"] != evidence["observed"]:
            return (
                True,
                0.9,
                f"The hub's push of {dead['quantity']} died in the dead-letter queue "
                f"({dead['error'][:120] or 'no error text'}), so the channel kept an older "
                "number. Re-pushing the hub's number fixes it.",
            )
        echo = evidence.get("echo_of_our_push")
        if echo:
            return (
                True,
                0.9,
                f"{echo['quantity']} is a number the hub itself pushed (at {echo['at']}); "
                "a later push was lost or the channel rolled it back. Re-pushing the hub's "
                "number fixes it.",
            )
        orders = [o for o in evidence.get("recent_orders") or () if not o.get("cancelled")]
        if orders and delta < 0:
            sold = sum(o["quantity"] for o in orders)
            return (
                False,
                0.6,
                f"{len(orders)} recent order line(s) of this SKU ({_units(sold)}) arrived in "
                "the last two hours: the channel may have sold units whose webhook the hub "
                "never received. Re-pushing would publish units that may be gone; check the "
                "channel's orders.",
            )
        stock = evidence.get("recent_stock_changes") or []
        if stock:
            last = stock[0]
            return (
                False,
                0.7,
                f"Stock changed in the hub recently ({last['kind']} {last['delta']:+} at "
                f"{last['at']}); the channel may show a number from before it, or the count "
                "itself may be off. A person should compare the shelf and the channel.",
            )
        return (
            False,
            0.5,
            "Nothing the hub knows explains it (no pending or dead push, no recent order, "
            "event, count or receipt): someone or another app changed the number on the "
            "channel.",
        )


SYSTEM_PROMPT = (
    "You investigate inventory drift between an inventory hub (the source of truth) and a "
    "sales channel. Given the facts as JSON, answer ONLY a JSON object with exactly these "
    'keys: {"understood": boolean, "confidence": number between 0 and 1, "reasoning": '
    "string of at most 1000 characters in plain language}. 'understood' means you can "
    "explain why the numbers disagree AND re-publishing the hub's number is the right fix."
)
VERDICT_KEYS = {"understood", "confidence", "reasoning"}


class VerdictRefused(ValueError):
    """The model's answer is not a verdict in the schema."""


def parse_verdict(content: str) -> tuple[bool, float, str]:
    try:
        answer = json.loads(content)
    except (TypeError, ValueError) as exc:
        raise VerdictRefused(f"not JSON: {exc}") from None
    if not isinstance(answer, dict) or set(answer) != VERDICT_KEYS:
        keys = sorted(answer) if isinstance(answer, dict) else type(answer).__name__
        raise VerdictRefused(f"expected exactly {sorted(VERDICT_KEYS)}, got {keys}")
    understood, confidence, reasoning = (
        answer["understood"],
        answer["confidence"],
        answer["reasoning"],
    )
    if not isinstance(understood, bool):
        raise VerdictRefused("'understood' is not a boolean")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise VerdictRefused("'confidence' is not a number")
    if not 0 <= confidence <= 1:
        raise VerdictRefused(f"'confidence' {confidence} is outside 0..1")
    if not isinstance(reasoning, str) or not reasoning.strip() or len(reasoning) > 1000:
        raise VerdictRefused("'reasoning' is not a non-empty string of at most 1000 characters")
    return understood, float(confidence), reasoning.strip()


class ModelInvestigator:
    """Asks `url` (an OpenAI-compatible server: `<url>/chat/completions`) for a verdict.
    A verdict it cannot get or trust is the rules' verdict, saying why."""

    name = "model"

    def __init__(
        self,
        *,
        url: str,
        model: str,
        timeout: float,
        api_key: str = "",
        fallback: Investigator | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        if not self.url.endswith("/chat/completions"):
            self.url += "/chat/completions"
        self.model, self.timeout, self.api_key = model, timeout, api_key
        self.fallback = fallback or RuleInvestigator()
        self.client = client

    def investigate(self, evidence: dict) -> Verdict:
        try:
            content = self._ask(evidence)
            understood, confidence, reasoning = parse_verdict(content)
        except (
            httpx.HTTPError,
            VerdictRefused,
            KeyError,
            IndexError,
            TypeError,
            ValueError,
        ) as exc:
            why = (
                "timed out"
                if isinstance(exc, httpx.TimeoutException)
                else f"{type(exc).__name__}: {exc}"
            )
            logger.warning("drift investigator model failed (%s); using the rules", why)
            ruled = self.fallback.investigate(evidence)
            return Verdict(
                ruled.understood,
                ruled.confidence,
                f"{ruled.reasoning} (The model server gave no usable verdict: {why[:200]}; "
                "the rules decided.)",
                f"{self.name}->{ruled.investigator}",
            )
        if not understood:
            confidence = min(confidence, 0.5)
        return Verdict(understood, round(confidence, 2), reasoning, f"{self.name}:{self.model}")

    def _ask(self, evidence: dict) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps(evidence, sort_keys=True, default=str)},
            ],
        }
        if self.client is not None:
            response = self.client.post(self.url, json=body, headers=headers, timeout=self.timeout)
        else:
            response = httpx.post(self.url, json=body, headers=headers, timeout=self.timeout)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]


def investigator_default() -> Investigator:
    """The investigator the settings name (DRIFT_INVESTIGATOR; the model needs a URL)."""
    if settings.DRIFT_INVESTIGATOR == "model" and settings.DRIFT_MODEL_URL:
        return ModelInvestigator(
            url=settings.DRIFT_MODEL_URL,
            model=settings.DRIFT_MODEL_NAME or "default",
            timeout=settings.DRIFT_MODEL_TIMEOUT,
            api_key=settings.DRIFT_MODEL_API_KEY,
        )
    return RuleInvestigator()

"""Channels: create, update (settings, secrets, endpoints), forget a previous secret.
Each write is one transaction that also refreshes the outbox for what it changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from foundation.egress import (
    EgressRefused,
    check_outbound_url,
    check_url_shape,
    private_networks_allowed,
    url_host,
)
from foundation.retries import is_retry_wait
from ledger.models import Location, Sku

from ..adapters.base import adapter_class
from ..models import (
    Channel,
    ChannelAuditKind,
    ChannelKind,
    ChannelLocation,
    Listing,
    kind_defaults,
)
from ..propagation.attention import needs_action_clear
from ..propagation.outbox import outbox_refresh_for_skus
from ..settings_schema import (
    CHOICE_SETTINGS,
    is_secret_parameter,
    known_settings,
    split_secrets,
)
from ..webhooks.signing import standard_secret_key
from .allocation import rule_save
from .common import EndpointChangeRefused, InvalidChannel, audit, initial_state

# The settings that say where a channel's requests, and so its credentials, go: every
# address an adapter, the eBay key fetch or the SQS poll sends to, and the parts of the
# path the adapters build from settings. Changing one is an Admin's job
# (channels.manage_channel_endpoints), is audited, and needs the credentials again.
ENDPOINT_URL_SETTINGS = (
    "base_url",
    "push_url",
    "lwa_token_url",
    "notification_key_url",
    "sqs_endpoint_url",
    "sqs_queue_url",
)
ENDPOINT_SETTINGS = (*ENDPOINT_URL_SETTINGS, "api_path", "api_version", "sqs_region")
MANAGE_ENDPOINTS = "channels.manage_channel_endpoints"


def channel_create(
    *,
    slug: str,
    kind: str,
    name: str,
    enabled: bool = True,
    credentials: dict | None = None,
    webhook_secret: str = "",
    settings: dict | None = None,
    allocation: dict | None = None,
    fulfilment_locations: Sequence[Location] = (),
    actor: AbstractBaseUser | None = None,
) -> Channel:
    """Create a channel with its default rule, and list every SKU on it."""
    if kind not in ChannelKind.values:
        raise InvalidChannel(
            f"Unknown channel kind {kind!r}; expected one of {', '.join(ChannelKind.values)}.",
            field="kind",
        )
    if Channel.objects.filter(slug=slug).exists():
        raise InvalidChannel(f"A channel with slug {slug!r} already exists.", field="slug")
    _check_webhook_secret(kind, webhook_secret)
    settings, secrets = _settings_and_secrets(settings or {}, merge=False)
    _check_known_settings(kind, settings, stored={})
    fields = _fields_from_settings(kind, settings)
    _check_endpoints(settings, ENDPOINT_URL_SETTINGS)
    credentials = _with_secrets(credentials or {}, secrets, sent=credentials or {})
    with transaction.atomic():
        try:
            with transaction.atomic():
                channel = Channel.objects.create(
                    slug=slug,
                    kind=kind,
                    name=name,
                    enabled=enabled,
                    credentials=credentials,
                    webhook_secret=webhook_secret,
                    settings=settings,
                    **fields,
                )
        except IntegrityError:
            # Created meanwhile by a concurrent request: the same answer as above.
            if Channel.objects.filter(slug=slug).exists():
                raise InvalidChannel(
                    f"A channel with slug {slug!r} already exists.", field="slug"
                ) from None
            raise
        ChannelLocation.objects.bulk_create(
            [
                ChannelLocation(channel=channel, location=location, priority=index)
                for index, location in enumerate(fulfilment_locations)
            ]
        )
        rule_save(channel=channel, sku=None, values=allocation or {})
        state = initial_state(channel)
        Listing.objects.bulk_create(
            [
                Listing(channel=channel, sku_id=sku_id, state=state)
                for sku_id in Sku.objects.values_list("id", flat=True)
            ],
            ignore_conflicts=True,
        )
        outbox_refresh_for_skus(
            sku_ids=Sku.objects.values_list("id", flat=True), channel_ids=[channel.pk], force=True
        )
        audit(
            ChannelAuditKind.CHANNEL,
            channel=channel,
            actor=actor,
            message=f"Channel {slug} created",
        )
    return channel


def channel_update(
    *, channel: Channel, actor: AbstractBaseUser | None = None, **changes: Any
) -> Channel:
    """Change a channel's name, secrets, settings or enabled flag. Re-enabling pushes
    every listing again: while it was off, nobody told it anything.

    ``settings`` replaces the settings object (PUT); ``settings_changes`` merges into it
    key by key, under the channel's lock, and a key given as None is removed (PATCH).
    ``credentials`` and ``credentials_changes`` do the same for the credentials, except
    that a channel whose endpoints move keeps only the credentials sent with them.
    Either way a key the channel's kind does not read is refused (unless it is stored
    already with that value), and a secret sent among the settings
    (``channels.settings_schema``) goes to the encrypted credentials instead: leaving it
    out never removes it, None (in ``settings_changes``) does.

    Secrets and endpoints (``ENDPOINT_SETTINGS``) are the Admin's: an actor without
    ``channels.manage_channel_endpoints`` who sends ``credentials``, ``webhook_secret``
    or a secret among the settings, or settings whose endpoints differ from the stored
    ones, is refused (EndpointChangeRefused, 403); ``actor=None`` is the system and may.
    A channel with stored credentials moves only with its credentials sent again in the
    same call, so they never go to an address they were not given for. Each moved
    endpoint is checked (``foundation.egress``) and audited with its old and new host.
    Every refusal comes before anything is written."""
    allowed = {"name", "enabled", "credentials", "webhook_secret", "settings"}
    unknown = set(changes) - allowed
    unknown -= {"allocation", "fulfilment_locations", "settings_changes", "credentials_changes"}
    if unknown:
        raise InvalidChannel(
            f"Cannot change {', '.join(sorted(unknown))}.", field=sorted(unknown)[0]
        )
    if "settings" in changes and "settings_changes" in changes:
        raise InvalidChannel(
            "Send settings (replace) or settings_changes (merge), not both.", field="settings"
        )
    if "webhook_secret" in changes:
        _check_webhook_secret(channel.kind, changes["webhook_secret"])
    secrets: dict[str, Any] = {}
    patch = None
    if "settings" in changes:
        changes["settings"], secrets = _settings_and_secrets(changes["settings"] or {}, merge=False)
    if "settings_changes" in changes:
        patch, secrets = _settings_and_secrets(changes.pop("settings_changes") or {}, merge=True)
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        stored_settings = dict(channel.settings or {})
        if patch:
            merged = {**stored_settings, **patch}
            changes["settings"] = {k: v for k, v in merged.items() if v is not None}
        moved = _moved_endpoints(channel, changes)
        if "credentials_changes" in changes:
            changes["credentials"] = _credentials_merged(
                channel, changes.pop("credentials_changes"), moved=bool(moved)
            )
        _check_endpoint_change(
            channel=channel, actor=actor, changes=changes, moved=moved, secrets=sorted(secrets)
        )
        if "settings" in changes:
            _check_known_settings(channel.kind, changes["settings"], stored=stored_settings)
            fields = _fields_from_settings(channel.kind, changes["settings"])
        _check_endpoints(changes.get("settings") or {}, moved)
        if secrets:
            sent = changes.get("credentials")
            base = sent if sent is not None else (channel.credentials or {})
            changes["credentials"] = _with_secrets(base, secrets, sent=sent or {})
        was_enabled = channel.enabled
        if "settings" in changes:
            for name, value in fields.items():
                setattr(channel, name, value)
        if "webhook_secret" in changes and changes["webhook_secret"] != channel.webhook_secret:
            channel.previous_webhook_secret = channel.webhook_secret
        for name in allowed & set(changes):
            setattr(channel, name, changes[name])
        channel.save()
        _listings_follow_location(channel, stored_settings)
        if channel.needs_action and {"credentials", "webhook_secret", "settings"} & set(changes):
            # Perhaps the merchant's fix: let the channel try again (the next push marks
            # it once more if not).
            needs_action_clear(channel=channel, actor=actor, why="the channel was changed")
        if "fulfilment_locations" in changes:
            ChannelLocation.objects.filter(channel=channel).delete()
            ChannelLocation.objects.bulk_create(
                [
                    ChannelLocation(channel=channel, location=location, priority=index)
                    for index, location in enumerate(changes["fulfilment_locations"])
                ]
            )
        if "allocation" in changes:
            rule_save(channel=channel, sku=None, values=changes["allocation"])
        refresh = channel.enabled and (
            not was_enabled or {"allocation", "fulfilment_locations"} & set(changes)
        )
        if refresh:
            outbox_refresh_for_skus(
                sku_ids=channel.listings.values_list("sku_id", flat=True),
                channel_ids=[channel.pk],
                force=not was_enabled,
            )
        # Names only: never a secret's value, nor a setting's.
        fields = ", ".join(sorted(set(changes) - {"credentials", "webhook_secret"}) or ["secrets"])
        audit(ChannelAuditKind.CHANNEL, channel=channel, actor=actor, message=f"Changed {fields}")
        for name in moved:
            _audit_moved_endpoint(channel, actor, name, stored_settings.get(name), channel.settings)
    return channel


def _listings_follow_location(channel: Channel, before: dict) -> None:
    """Listings that took the channel's ``location_id`` as their own (a Shopify lookup by
    SKU did, before it left the field empty) follow the setting when it changes; a
    location set on one listing by hand stays."""
    old = str(before.get("location_id") or "")
    if old and old != str((channel.settings or {}).get("location_id") or ""):
        Listing.objects.filter(channel=channel, external_location_id=old).update(
            external_location_id=""
        )


# The longest secret or setting name the hub keeps (a secret's value, a name in a message).
SECRET_LIMIT = 2000
NAME_LIMIT = 100


def _settings_and_secrets(settings: Any, *, merge: bool) -> tuple[dict, dict]:
    """(plain settings, secrets) from what a client sent as settings. Replacing (create,
    PUT), a None value is the same as leaving the key out; merging (PATCH), it removes
    the key. A secret must be text; its value never appears in a message."""
    if not isinstance(settings, dict):
        raise InvalidChannel("settings must be an object.", field="settings")
    for name in settings:
        if not isinstance(name, str) or not 1 <= len(name) <= NAME_LIMIT:
            raise InvalidChannel(
                f"settings names are 1 to {NAME_LIMIT} characters.", field="settings"
            )
    plain, secrets = split_secrets(settings)
    if not merge:
        plain = {k: v for k, v in plain.items() if v is not None}
        secrets = {k: v for k, v in secrets.items() if v is not None}
    for name, value in secrets.items():
        if value is not None and (
            not isinstance(value, str) or not value.strip() or len(value) > SECRET_LIMIT
        ):
            raise InvalidChannel(
                f"settings.{name} is a secret: send it as text of 1 to {SECRET_LIMIT} "
                "characters (or null to remove it).",
                field=f"settings.{name}",
            )
    return plain, secrets


def _credentials_merged(channel: Channel, sent: Any, *, moved: bool) -> dict:
    """PATCH: the stored credentials with those sent put in (None: removed). A channel
    that moves keeps only what was sent with the new address."""
    if not isinstance(sent, dict):
        raise InvalidChannel("credentials must be an object.", field="credentials")
    merged = {**({} if moved else (channel.credentials or {})), **sent}
    return {name: value for name, value in merged.items() if value is not None}


def _with_secrets(credentials: dict, secrets: dict, *, sent: dict) -> dict:
    """The credentials with the secrets sent among the settings put in (None: removed).
    A secret sent both ways must be the same, rather than one silently winning."""
    if not isinstance(credentials, dict):
        raise InvalidChannel("credentials must be an object.", field="credentials")
    result = dict(credentials)
    for name, value in secrets.items():
        if name in sent and sent[name] != value:
            raise InvalidChannel(
                f"settings.{name} and credentials.{name} differ: send the secret once.",
                field=f"settings.{name}",
            )
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


_ABSENT = object()


def _check_known_settings(kind: str, settings: dict, *, stored: dict) -> None:
    """Refuse a setting the kind does not read (a typo would otherwise be kept and
    ignored). One stored already with the same value stays: older channels may hold
    keys this list no longer names, and saving them unchanged is no new input."""
    known = known_settings(kind)
    for name in sorted(settings):
        if name in known or stored.get(name, _ABSENT) == settings[name]:
            continue
        raise InvalidChannel(
            f"settings.{name} is not a setting of a {kind} channel. Known settings: "
            f"{', '.join(sorted(known))}; secrets go in credentials.",
            field=f"settings.{name}",
        )


def _moved_endpoints(channel: Channel, changes: dict) -> list[str]:
    """The endpoint settings the change gives another value (or takes away)."""
    if "settings" not in changes:
        return []
    stored, new = channel.settings or {}, changes["settings"]
    return [name for name in ENDPOINT_SETTINGS if stored.get(name) != new.get(name)]


def _check_endpoint_change(
    *,
    channel: Channel,
    actor: AbstractBaseUser | None,
    changes: dict,
    moved: list[str],
    secrets: Sequence[str] = (),
) -> None:
    secrets_sent = sorted({"credentials", "webhook_secret"} & set(changes))
    secrets_sent += [f"settings.{name}" for name in secrets]
    touched = secrets_sent + [f"settings.{name}" for name in moved]
    if touched and actor is not None and not actor.has_perm(MANAGE_ENDPOINTS):
        raise EndpointChangeRefused(
            f"Only an Admin may change a channel's credentials, webhook secret or addresses "
            f"({', '.join(touched)}). You may change its name, enabled flag, allocation "
            "and its other settings; send the endpoint settings as they are.",
            field=touched[0],
        )
    if moved and channel.credentials and not changes.get("credentials"):
        raise InvalidChannel(
            f"settings.{moved[0]} changes where {channel.slug} sends its requests: send the "
            "credentials again with the new address: they are never sent to an address "
            "they were not given for.",
            field="credentials",
            setting=f"settings.{moved[0]}",
        )


def _check_endpoints(settings: dict, names: Sequence[str]) -> None:
    """Refuse an endpoint inside the hub's own network (unless allowed), or one carrying
    a credential (a user:password part, a token in the query), naming it."""
    for name in names:
        value = settings.get(name)
        if name in ENDPOINT_URL_SETTINGS and value:
            _check_no_credential_in(name, str(value))
            try:
                check_outbound_url(value)
            except EgressRefused as exc:
                raise InvalidChannel(f"settings.{name}: {exc}", field=f"settings.{name}") from None


def _check_no_credential_in(name: str, url: str) -> None:
    """Settings are stored and shown in plain text: a URL with a credential inside is
    refused, with the parameter's name and never its value."""
    parts = urlsplit(url)
    where = ""
    if parts.username or parts.password:
        where = "a user name or password before the host"
    else:
        secret = [key for key, _ in parse_qsl(parts.query) if is_secret_parameter(key)]
        if secret:
            where = f"the query parameter {secret[0]!r}"
    if where:
        raise InvalidChannel(
            f"settings.{name} holds {where}: settings are stored and shown in plain text, "
            "so give the address without it and put the credential in the channel's "
            "credentials.",
            field=f"settings.{name}",
        )


def _audit_moved_endpoint(
    channel: Channel, actor: AbstractBaseUser | None, name: str, old: Any, settings: dict
) -> None:
    new = settings.get(name)

    def shown(value: Any) -> str:
        if not value:
            return "(none)"
        if name not in ENDPOINT_URL_SETTINGS:
            return repr(value)[:100]
        # The host and the path; never a user:password part or a query (they may hold
        # secrets).
        parts = urlsplit(str(value))
        return f"{parts.scheme}://{url_host(str(value))}{parts.path[:100]}"

    who = actor.get_username() if actor is not None else "the system"
    audit(
        ChannelAuditKind.CHANNEL,
        channel=channel,
        actor=actor,
        message=f"settings.{name} moved from {shown(old)} to {shown(new)} by {who}",
        setting=name,
        old=shown(old),
        new=shown(new),
    )


def _check_webhook_secret(kind: str, secret: str) -> None:
    """A Standard Webhooks secret (kinds standard and sandbox) must be one the verifier can
    use: refused now rather than accepted and then answering every delivery 503."""
    if secret and kind in (ChannelKind.STANDARD, ChannelKind.SANDBOX):
        try:
            standard_secret_key(secret)
        except ValueError as exc:
            raise InvalidChannel(
                f"Unusable webhook secret: {exc} (for example 'whsec_' followed by the "
                "base64 the sender shows).",
                field="webhook_secret",
            ) from None


def channel_previous_secret_forget(
    *, channel: Channel, actor: AbstractBaseUser | None = None
) -> Channel:
    """End a secret rotation: deliveries signed with the previous webhook secret are no
    longer accepted. (channel_update keeps the old secret as the previous one when the
    secret changes, so a channel that still signs with it is not locked out meanwhile.)"""
    with transaction.atomic():
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        if not channel.previous_webhook_secret:
            raise InvalidChannel(
                f"{channel.slug} has no previous webhook secret to remove.",
                field="previous_webhook_secret",
            )
        channel.previous_webhook_secret = ""
        channel.save()
        audit(
            ChannelAuditKind.CHANNEL,
            channel=channel,
            actor=actor,
            message="Previous webhook secret removed",
        )
    return channel


# Settings the hub reads that are numbers: (lowest, highest, whole numbers only). A batch
# is at most what the kind's API takes in one call.
NUMBER_SETTINGS = {
    "batch_size": (1, None, True),
    "rate_limit_per_second": (0.01, 100_000, False),
    "rate_limit_burst": (1, 1_000_000, True),
    "reconcile_interval_minutes": (1, 10_080, True),
    "timeout_seconds": (0.1, 300, False),
    "claim_lease_seconds": (10, 86_400, False),
    "revisions_per_listing_per_day": (0, 100_000, True),
}


def _fields_from_settings(kind: str, settings: dict) -> dict:
    """The channel's columns its settings set (the kind's defaults for what they leave
    out), once every setting the hub reads is checked: a bad one is an InvalidChannel
    naming it, before anything is written, rather than a drain that fails on it later."""
    _check_settings(kind, settings)
    defaults = kind_defaults(kind)
    return {
        "batch_size": settings.get("batch_size", defaults["batch_size"]),
        "compare_and_set": settings.get("compare_and_set", defaults["compare_and_set"]),
        "rate_limit_per_second": settings.get("rate_limit_per_second", defaults["rate"]),
        "rate_limit_burst": settings.get("rate_limit_burst", defaults["burst"]),
        "reconcile_interval_minutes": settings.get("reconcile_interval_minutes", 15),
    }


def _check_settings(kind: str, settings: dict) -> None:
    def refuse(name: str, what: str) -> InvalidChannel:
        return InvalidChannel(f"settings.{name} must be {what}.", field=f"settings.{name}")

    for name, (low, high, whole) in NUMBER_SETTINGS.items():
        if name not in settings:
            continue
        value, high = settings[name], high or adapter_class(kind).max_batch
        if (
            isinstance(value, bool)
            or not isinstance(value, int if whole else int | float)
            or not low <= value <= high
        ):
            raise refuse(name, f"a {'whole ' if whole else ''}number from {low:g} to {high:g}")
    schedule = settings.get("retry_schedule_seconds", [1])
    if (
        not isinstance(schedule, list)
        or not 1 <= len(schedule) <= 50
        or not all(is_retry_wait(wait) for wait in schedule)
    ):
        raise refuse(
            "retry_schedule_seconds", "a list of 1 to 50 waits in seconds, each up to 7 days"
        )
    if not isinstance(settings.get("compare_and_set", False), bool):
        raise refuse("compare_and_set", "true or false")
    for name, words in CHOICE_SETTINGS.get(kind, {}).items():
        if name in settings and settings[name] not in words:
            raise refuse(name, " or ".join(repr(word) for word in words))
    base_url = settings.get("base_url")
    if (
        settings.get("auth") == "query"
        and isinstance(base_url, str)
        and not base_url.startswith("https://")
        and not private_networks_allowed()
    ):
        # WooCommerce takes the key and secret in the query string over HTTPS only.
        raise InvalidChannel(
            "settings.auth 'query' puts the consumer secret in the address: it needs an "
            "https:// base_url.",
            field="settings.auth",
        )
    for name in ENDPOINT_SETTINGS:
        value = settings.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or len(value) > 2000:
            raise refuse(name, "a URL" if name in ENDPOINT_URL_SETTINGS else "a string")
        if name in ENDPOINT_URL_SETTINGS:
            try:
                check_url_shape(value)
            except EgressRefused:
                raise refuse(name, "an http:// or https:// URL") from None

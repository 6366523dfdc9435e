"""The dashboard's forms: they translate what a person typed into the arguments of one
service, and show the service's refusals beside the field they name."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from channels.models import AllocationMode, Channel, ChannelKind
from foundation.errors import DomainError
from ledger.errors import InvalidOperation
from ledger.models import Location, MovementKind
from ledger.services import MAX_QUANTITY
from ledger.services.stock import movement_check

KIND_CHOICES = [
    (MovementKind.RECEIPT, "Receipt: goods arrived"),
    (MovementKind.ADJUSTMENT, "Adjustment: damaged, lost or found (+/-)"),
    (MovementKind.COUNT, "Count: the number you counted"),
    (MovementKind.RETURN, "Return: back on the shelf"),
    (MovementKind.TRANSFER, "Transfer: to another location"),
]


def _length_messages(what: str, limit: int) -> dict:
    """Refuse, in words, what the database could not store (no silent cut in the browser)."""
    return {
        "max_length": f"{what} can be at most {limit} characters; this one has "
        "%(show_value)d. Shorten it: nothing was saved."
    }


class MovementForm(forms.Form):
    """What happened to the stock. The form translates the input (codes to locations,
    text to numbers); what each kind requires is the ledger's `movement_check`, and the
    stock rules are checked again by the service under its locks."""

    kind = forms.ChoiceField(
        choices=KIND_CHOICES,
        error_messages={
            "required": "Choose what happened: receipt, adjustment, count, return or transfer.",
            "invalid_choice": "Choose what happened: receipt, adjustment, count, return or "
            "transfer.",
        },
    )
    quantity = forms.IntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        error_messages={
            "required": "Enter a quantity.",
            "invalid": "The quantity must be a whole number of units, like 5.",
            "min_value": "That is more than a billion units; check the number.",
            "max_value": "That is more than a billion units; check the number.",
        },
    )
    location = forms.CharField(max_length=50, error_messages={"required": "Choose a location."})
    to_location = forms.CharField(max_length=50, required=False)
    reason = forms.CharField(
        max_length=500, required=False, error_messages=_length_messages("A reason", 500)
    )
    # A fresh key per rendered form: a double click records the movement once.
    request_key = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def __init__(self, *args, locations: list[Location], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.locations = locations
        self._by_code = {location.code: location for location in locations}

    def _location(self, code: str) -> Location:
        location = self._by_code.get(code)
        if location is None:
            raise ValidationError(f"There is no location called {code!r}. Pick one from the list.")
        return location

    def clean_location(self) -> Location:
        return self._location(self.cleaned_data["location"])

    def clean_to_location(self) -> Location | None:
        code = self.cleaned_data["to_location"]
        return self._location(code) if code else None

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        # Every rule of a movement lives in the ledger's service; the form only shows
        # the service's message beside the field it names.
        try:
            movement_check(
                kind=data["kind"],
                quantity=data["quantity"],
                location=data["location"],
                to_location=data.get("to_location"),
            )
        except InvalidOperation as exc:
            field = exc.detail.get("field")
            self.add_error(field if field in self.fields else None, exc.message)
        return data


class SkuForm(forms.Form):
    """A new SKU. The lengths are the columns' (ledger.models.Sku): a longer value is
    refused with a message, never cut (the browser's maxlength would cut it silently, so
    the template sets none). What a code may contain is the catalogue service's rule."""

    code = forms.CharField(
        max_length=100,
        error_messages={
            "required": "Enter a SKU code, for example TEE-RED-M.",
            **_length_messages("A SKU code", 100),
        },
    )
    title = forms.CharField(
        max_length=255, required=False, error_messages=_length_messages("A title", 255)
    )
    barcode = forms.CharField(
        max_length=64, required=False, error_messages=_length_messages("A barcode", 64)
    )


# --- channels ---------------------------------------------------------------------------

# What each kind reads from its settings and its (encrypted) credentials, beyond base_url:
# (key, label, help). The adapters (channels/adapters/<kind>.py) are the authority.
KIND_SETTINGS: dict[str, list[tuple[str, str, str]]] = {
    "shopify": [
        ("location_id", "Shopify location id", "The location whose level the hub publishes."),
        ("api_version", "Admin API version", "Leave blank for the version the hub was built for."),
    ],
    "woocommerce": [
        ("api_path", "API path", "Leave blank for wp-json/wc/v3."),
        (
            "auth",
            "How the keys travel",
            "header (blank: the default) or query, for hosts that strip the Authorization "
            "header; query needs HTTPS.",
        ),
    ],
    "amazon": [
        ("seller_id", "Seller id", "Your Amazon merchant token."),
        ("marketplace_id", "Marketplace id", "e.g. ATVPDKIKX0DER for amazon.com."),
        (
            "product_type",
            "Fallback product type",
            "Optional: for listings whose own product type Amazon does not show yet.",
        ),
        ("lwa_token_url", "Login with Amazon token URL", "Leave blank for Amazon's own."),
        ("sqs_queue_url", "SQS queue URL", "Where Amazon's notifications arrive."),
        ("sqs_endpoint_url", "SQS endpoint URL", "Leave blank for AWS's own."),
    ],
    "ebay": [
        ("marketplace_id", "Marketplace id", "e.g. EBAY_US."),
        ("content_language", "Content language", "Leave blank for en-US."),
        ("notification_key_url", "Notification public key URL", "Leave blank for eBay's own."),
    ],
    "standard": [
        ("push_url", "Push URL", "Where the hub posts levels; blank: <base URL>/inventory.")
    ],
    "sandbox": [],
}
KIND_CREDENTIALS: dict[str, list[tuple[str, str]]] = {
    "shopify": [("access_token", "Admin API access token")],
    "woocommerce": [("consumer_key", "Consumer key"), ("consumer_secret", "Consumer secret")],
    "amazon": [
        ("lwa_app_id", "LWA client id"),
        ("lwa_client_secret", "LWA client secret"),
        ("refresh_token", "Refresh token"),
    ],
    "ebay": [
        ("client_id", "App client id"),
        ("client_secret", "App client secret"),
        ("refresh_token", "Seller's refresh token (the hub renews the access token)"),
        ("access_token", "OAuth access token (only without a refresh token)"),
    ],
    "standard": [("push_secret", "Push signing secret (blank: the webhook secret)")],
    "sandbox": [("access_token", "Access token")],
}
SETTING_LIMIT = 500


class ChannelForm(forms.Form):
    """A channel's fields; the kind's settings and credentials are named `<kind>__<key>`
    and only the chosen kind's are read. Endpoint fields (base URL, kind settings,
    credentials, secret) are left out for someone who may not change them; the service
    decides in the end."""

    slug = forms.SlugField(
        max_length=50,
        error_messages={
            "required": "Enter a slug: the channel's short name in URLs, e.g. web-shop.",
            "invalid": "A slug is letters, digits, - and _ only, e.g. web-shop.",
            **_length_messages("A slug", 50),
        },
    )
    kind = forms.ChoiceField(
        choices=ChannelKind.choices,
        error_messages={"invalid_choice": "Choose the kind of channel from the list."},
    )
    name = forms.CharField(
        max_length=100,
        error_messages={
            "required": "Enter a name people will recognise.",
            **_length_messages("A name", 100),
        },
    )
    enabled = forms.BooleanField(required=False)
    base_url = forms.CharField(
        max_length=SETTING_LIMIT,
        required=False,
        error_messages=_length_messages("A URL", SETTING_LIMIT),
    )
    reconcile_interval_minutes = forms.IntegerField(
        min_value=1,
        max_value=10_080,
        required=False,
        error_messages={
            "invalid": "Minutes between reconciles, a whole number like 15.",
            "min_value": "Between 1 minute and 10,080 minutes (a week).",
            "max_value": "Between 1 minute and 10,080 minutes (a week).",
        },
    )
    webhook_secret = forms.CharField(
        max_length=500, required=False, error_messages=_length_messages("A secret", 500)
    )
    locations = forms.MultipleChoiceField(required=False)

    ENDPOINT_FIELDS = ("base_url", "reconcile_interval_minutes", "webhook_secret")

    def __init__(
        self,
        *args,
        channel: Channel | None = None,
        locations: list[Location],
        endpoints: bool,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel
        self.endpoints = endpoints
        self.fields["locations"].choices = [(place.code, place.name) for place in locations]
        self._locations = {place.code: place for place in locations}
        kinds = [channel.kind] if channel else list(KIND_SETTINGS)
        for kind in kinds:
            for key, label, help_text in KIND_SETTINGS[kind]:
                self.fields[f"{kind}__{key}"] = forms.CharField(
                    label=label,
                    help_text=help_text,
                    max_length=SETTING_LIMIT,
                    required=False,
                    error_messages=_length_messages(label, SETTING_LIMIT),
                )
            for key, label in KIND_CREDENTIALS[kind]:
                self.fields[f"{kind}__cred__{key}"] = forms.CharField(
                    label=label,
                    max_length=SETTING_LIMIT,
                    required=False,
                    strip=True,
                    error_messages=_length_messages(label, SETTING_LIMIT),
                )
        if channel is not None:
            for name in ("slug", "kind"):
                self.fields[name].required = False
                self.fields[name].disabled = True
        if not endpoints:
            for name in list(self.fields):
                if name in self.ENDPOINT_FIELDS or "__" in name:
                    del self.fields[name]

    def kind_fields(self, kind: str) -> dict:
        """The bound fields of one kind: settings and credentials."""
        settings = [
            self[f"{kind}__{key}"]
            for key, _, _ in KIND_SETTINGS[kind]
            if f"{kind}__{key}" in self.fields
        ]
        credentials = [
            (self[f"{kind}__cred__{key}"], key)
            for key, _ in KIND_CREDENTIALS[kind]
            if f"{kind}__cred__{key}" in self.fields
        ]
        return {"kind": kind, "settings": settings, "credentials": credentials}

    def clean_base_url(self) -> str:
        url = self.cleaned_data.get("base_url", "").strip()
        if url and not url.startswith(("https://", "http://")):
            raise ValidationError(
                "The base URL starts with https:// (or http:// for a local test store)."
            )
        return url

    def clean_locations(self) -> list[Location]:
        return [self._locations[code] for code in self.cleaned_data["locations"]]

    def clean(self) -> dict:
        data = super().clean()
        if (
            self.channel is None
            and self.endpoints
            and not data.get("base_url")
            and "base_url" not in self.errors
        ):
            self.add_error(
                "base_url", "Enter the channel's base URL: the hub pushes quantities there."
            )
        return data

    def service_values(self) -> dict:
        """The arguments for channel_create / the changes for channel_update."""
        data = self.cleaned_data
        kind = self.channel.kind if self.channel else data["kind"]
        values: dict = {"name": data["name"], "enabled": data.get("enabled", False)}
        if self.channel is None or "locations" in self.changed_data:
            values["fulfilment_locations"] = data["locations"]
        if not self.endpoints:
            return values
        settings = dict(self.channel.settings or {}) if self.channel else {}
        settings["base_url"] = data["base_url"]
        if data.get("reconcile_interval_minutes"):
            settings["reconcile_interval_minutes"] = data["reconcile_interval_minutes"]
        for key, _, _ in KIND_SETTINGS[kind]:
            value = data.get(f"{kind}__{key}", "")
            if value:
                settings[key] = value
            else:
                settings.pop(key, None)
        typed = {
            key: data[f"{kind}__cred__{key}"]
            for key, _ in KIND_CREDENTIALS[kind]
            if data.get(f"{kind}__cred__{key}")
        }
        if self.channel is None:
            values.update(slug=data["slug"], kind=kind, settings=settings, credentials=typed)
            if data.get("webhook_secret"):
                values["webhook_secret"] = data["webhook_secret"]
            return values
        if settings != (self.channel.settings or {}):
            values["settings"] = settings
        if typed:
            # Credentials are write-only: a blank field keeps what is stored.
            values["credentials"] = {**(self.channel.credentials or {}), **typed}
        return values

    def show_refusal(self, exc: DomainError) -> None:
        field = str(exc.detail.get("field") or "")
        kind = self.channel.kind if self.channel else self.cleaned_data.get("kind", "")
        name = field.removeprefix("settings.")
        candidates = [field, name, f"{kind}__{name}"]
        target = next((c for c in candidates if c in self.fields), None)
        self.add_error(target, exc.message)


def channel_form_initial(channel: Channel) -> dict:
    settings = channel.settings or {}
    initial = {
        "name": channel.name,
        "enabled": channel.enabled,
        "base_url": settings.get("base_url", ""),
        "reconcile_interval_minutes": channel.reconcile_interval_minutes,
        "locations": [
            link.location.code for link in channel.channellocation_set.select_related("location")
        ],
    }
    for key, _, _ in KIND_SETTINGS[channel.kind]:
        initial[f"{channel.kind}__{key}"] = settings.get(key, "")
    return initial


class RuleForm(forms.Form):
    """An allocation rule as typed (the default rule or a per-SKU override)."""

    mode = forms.ChoiceField(
        choices=AllocationMode.choices,
        error_messages={"invalid_choice": "Choose pool, share or fixed."},
    )
    share_percent = forms.DecimalField(
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
        required=False,
        error_messages={
            "invalid": "A share is a percentage like 40 or 33.5.",
            "min_value": "A share is between 0 and 100 percent.",
            "max_value": "A share is between 0 and 100 percent.",
            "max_decimal_places": "At most two decimals, like 33.33.",
            "max_digits": "A share is between 0 and 100 percent.",
        },
    )
    fixed_quantity = forms.IntegerField(
        min_value=0,
        max_value=MAX_QUANTITY,
        required=False,
        error_messages={
            "invalid": "A whole number of units, like 10.",
            "min_value": "At least 0 units.",
            "max_value": "That is more than a billion units; check the number.",
        },
    )
    buffer_units = forms.IntegerField(
        min_value=0,
        max_value=MAX_QUANTITY,
        required=False,
        error_messages={
            "invalid": "A whole number of units, like 2.",
            "min_value": "A buffer cannot be negative.",
            "max_value": "That is more than a billion units; check the number.",
        },
    )
    buffer_percent = forms.DecimalField(
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
        required=False,
        error_messages={
            "invalid": "A percentage like 10 or 12.5.",
            "min_value": "A buffer is between 0 and 100 percent.",
            "max_value": "A buffer is between 0 and 100 percent.",
            "max_decimal_places": "At most two decimals, like 12.5.",
            "max_digits": "A buffer is between 0 and 100 percent.",
        },
    )

    def rule_values(self) -> dict:
        data = self.cleaned_data
        return {
            "mode": data["mode"],
            "share_percent": data.get("share_percent")
            if data.get("share_percent") is not None
            else Decimal(100),
            "fixed_quantity": data.get("fixed_quantity") or 0,
            "buffer_units": data.get("buffer_units") or 0,
            "buffer_percent": data.get("buffer_percent") or Decimal(0),
        }


class LocationForm(forms.Form):
    code = forms.SlugField(
        max_length=50,
        error_messages={
            "required": "Enter a code, e.g. store-2.",
            "invalid": "A code is letters, digits, - and _ only, e.g. store-2.",
            **_length_messages("A code", 50),
        },
    )
    name = forms.CharField(
        max_length=100,
        error_messages={
            "required": "Enter a name, e.g. Second store.",
            **_length_messages("A name", 100),
        },
    )
    priority = forms.IntegerField(
        min_value=0,
        max_value=1_000_000,
        required=False,
        error_messages={
            "invalid": "Priority is a whole number; lower is used first.",
            "min_value": "Priority is a whole number from 0 to 1,000,000.",
            "max_value": "Priority is a whole number from 0 to 1,000,000.",
        },
    )

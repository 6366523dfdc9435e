"""The dashboard's forms: they translate what a person typed into the arguments of one
service, and show the service's refusals beside the field they name."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

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
    reason = forms.CharField(max_length=500, required=False)
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
    code = forms.CharField(
        max_length=100,
        error_messages={"required": "Enter a SKU code, for example TEE-RED-M."},
    )
    title = forms.CharField(max_length=255, required=False)
    barcode = forms.CharField(max_length=64, required=False)

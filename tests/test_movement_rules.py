"""One place per rule: the dashboard's movement form and `POST /api/v1/movements/` both go
through `ledger.services.movement_record`, so for the same input they accept the same
movements and refuse the others with the same message, writing nothing."""

import pytest
from django.test import Client
from django.utils.html import escape

from ledger.models import Movement, StockLevel, StockOperation
from ledger.services import location_create, location_default, stock_receive
from tests.factories import SkuFactory

pytestmark = pytest.mark.django_db

CASES = [
    # (fields, the service's message or None when the movement is recorded)
    ({"kind": "receipt", "quantity": 2}, None),
    ({"kind": "return", "quantity": 1}, None),
    ({"kind": "adjustment", "quantity": -1}, None),  # a reason is optional, everywhere
    ({"kind": "adjustment", "quantity": -1, "reason": "damaged"}, None),
    ({"kind": "count", "quantity": 0}, None),
    ({"kind": "transfer", "quantity": 1, "to_location": "store"}, None),
    ({"kind": "receipt", "quantity": 0}, "Zero units would change nothing."),
    ({"kind": "adjustment", "quantity": 0}, "Zero units would change nothing."),
    ({"kind": "receipt", "quantity": -2}, "A receipt cannot be negative."),
    ({"kind": "return", "quantity": -2}, "A return cannot be negative."),
    ({"kind": "transfer", "quantity": -1, "to_location": "store"}, "A transfer cannot be"),
    ({"kind": "count", "quantity": -1}, "A count cannot be negative"),
    ({"kind": "transfer", "quantity": 1}, "Choose the location the units go to"),
    ({"kind": "transfer", "quantity": 1, "to_location": "main"}, "The units are already at"),
    ({"kind": "receipt", "quantity": 1, "to_location": "store"}, "Only a transfer goes to"),
]


def _written() -> tuple:
    return (
        Movement.objects.count(),
        StockOperation.objects.count(),
        sorted(StockLevel.objects.values_list("sku_id", "location_id", "on_hand", "committed")),
    )


@pytest.mark.parametrize(("fields", "refusal"), CASES)
def test_the_dashboard_and_the_api_accept_and_refuse_the_same_movements(api, user, fields, refusal):
    location_create(code="store", name="Store")
    sku = SkuFactory(code="TEE-RED-M")
    stock_receive(sku=sku, quantity=5)
    home = location_default().code

    before = _written()
    by_api = api.post(
        "/api/v1/movements/", {"sku": sku.code, "location": home, **fields}, format="json"
    )
    api_wrote = _written() != before

    browser = Client()
    browser.force_login(user)
    before = _written()
    form = {"kind": "", "quantity": "", "location": home, "to_location": "", "reason": ""}
    form.update({key: str(value) for key, value in fields.items()})
    by_form = browser.post(f"/skus/{sku.code}/", form, HTTP_HX_REQUEST="true")
    form_wrote = _written() != before

    if refusal is None:
        assert by_api.status_code == 201, by_api.json()
        assert by_form.status_code == 200
        assert api_wrote and form_wrote
    else:
        assert by_api.status_code == 400
        assert refusal in by_api.json()["message"]
        assert by_form.status_code == 422
        assert escape(refusal) in by_form.content.decode()
        assert not api_wrote and not form_wrote

"""The catalogue: SKUs and locations, and the lookups every other service starts from."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from django.db import IntegrityError, transaction

from .. import hooks
from ..errors import InvalidOperation, LocationNotFound, SkuNotFound
from ..models import Location, Sku, normalize_sku_code

# Codes whose page would be another page: the addresses that sit beside /skus/<code>/.
RESERVED_SKU_CODES = {
    "new": "the dashboard's new-SKU form",
    "bulk": "the API's bulk SKU creation",
}
# Sku.code and Sku.code_key: the code as written and its matching form both fit.
MAX_SKU_CODE_LENGTH = 100

# --- lookups -----------------------------------------------------------------------------


def sku_get(code: str) -> Sku:
    try:
        return Sku.objects.get(code_key=normalize_sku_code(code))
    except Sku.DoesNotExist:
        raise SkuNotFound(f"No SKU with code {code.strip()!r}.", sku=code) from None


def skus_by_code(codes: Sequence[str]) -> dict[str, Sku]:
    """code as given -> Sku, in one query; SkuNotFound names the first unknown code."""
    keys = {code: normalize_sku_code(code) for code in codes}
    found = {sku.code_key: sku for sku in Sku.objects.filter(code_key__in=set(keys.values()))}
    missing = [code for code, key in keys.items() if key not in found]
    if missing:
        raise SkuNotFound(
            f"No SKU with code {missing[0].strip()!r}"
            + (f" (and {len(missing) - 1} more)." if len(missing) > 1 else "."),
            sku=missing[0],
            missing=missing[:20],
        )
    return {code: found[key] for code, key in keys.items()}


def location_get(code: str | None) -> Location:
    if code is None:
        return location_default()
    try:
        return Location.objects.get(code=code)
    except Location.DoesNotExist:
        raise LocationNotFound(f"No location with code {code!r}.", location=code) from None


def location_default() -> Location:
    """The default location; recreated if someone removed it (a migration makes it)."""
    location = Location.objects.filter(is_default=True).first()
    if location is None:
        location, _ = Location.objects.get_or_create(
            is_default=True, defaults={"code": "main", "name": "Main warehouse", "priority": 0}
        )
    return location


# --- catalogue ---------------------------------------------------------------------------


def sku_create(
    *, code: str, title: str = "", barcode: str = "", attributes: dict | None = None
) -> Sku:
    return skus_create(
        items=[{"code": code, "title": title, "barcode": barcode, "attributes": attributes}]
    )[0]


def sku_code_check(code: str, *, index: int = 0) -> str:
    """The code as it will be stored (trimmed), or InvalidOperation saying why it cannot
    be a SKU code. A code is printed on labels, typed into channels and put in addresses
    (/skus/<code>/): printable characters only (no control or invisible formatting
    characters such as a tab or a right-to-left override), no '/', at most 100 characters
    as written and once case-folded ("ß" matches as "ss")."""
    code = code.strip()
    where = {"field": "code", "index": index}
    if not code:
        raise InvalidOperation("A SKU code cannot be blank.", **where)
    if code in RESERVED_SKU_CODES:
        raise InvalidOperation(
            f"{code!r} cannot be a SKU code: /skus/{code}/ is the address of "
            f"{RESERVED_SKU_CODES[code]}. Use another spelling, for example {code.upper()!r}.",
            **where,
        )
    if len(code) > MAX_SKU_CODE_LENGTH:
        raise InvalidOperation(
            f"A SKU code can be at most {MAX_SKU_CODE_LENGTH} characters; this one has "
            f"{len(code)}.",
            **where,
        )
    if len(normalize_sku_code(code)) > MAX_SKU_CODE_LENGTH:
        raise InvalidOperation(
            f"A SKU code can be at most {MAX_SKU_CODE_LENGTH} characters once case-folded for "
            f"matching (a letter such as 'ß' becomes 'ss'); this one becomes "
            f"{len(normalize_sku_code(code))}.",
            **where,
        )
    position, char = next(((i, c) for i, c in enumerate(code, 1) if not c.isprintable()), (0, ""))
    if char:
        raise InvalidOperation(
            "A SKU code can hold only printable characters: it has "
            f"U+{ord(char):04X} ({_character_name(char)}) at position {position}.",
            character=f"U+{ord(char):04X}",
            **where,
        )
    if "/" in code:
        raise InvalidOperation(
            f"A SKU code cannot contain '/': the code is part of the SKU's address "
            f"(/skus/<code>/). Use another separator, for example "
            f"{code.replace('/', '-')!r}.",
            **where,
        )
    return code


def _character_name(char: str) -> str:
    kinds = {"Cc": "a control character", "Cn": "an unassigned code point"}
    return unicodedata.name(char, "") or kinds.get(unicodedata.category(char), "invisible")


def skus_create(*, items: Sequence[dict]) -> list[Sku]:
    """Create SKUs (a catalogue import is one call) and list them on every channel, in
    one transaction: all or nothing. Codes match trimmed and case-insensitively."""
    skus = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        code = sku_code_check(str(item.get("code") or ""), index=index)
        key = normalize_sku_code(code)
        if key in seen:
            raise InvalidOperation(f"SKU {code!r} appears twice.", field="code", index=index)
        seen.add(key)
        skus.append(
            Sku(
                code=code,
                code_key=key,
                title=item.get("title") or "",
                barcode=item.get("barcode") or "",
                attributes=item.get("attributes") or {},
            )
        )
    _refuse_taken(skus)
    try:
        with transaction.atomic():
            Sku.objects.bulk_create(skus, batch_size=1000)
            # The channels list the new SKUs (matched by code) in the same transaction.
            hooks.skus_created(skus)
    except IntegrityError:
        # Created meanwhile by a concurrent request (the UNIQUE code_key said so): the
        # same answer as when it was there before.
        _refuse_taken(skus)
        raise
    return skus


def _refuse_taken(skus: Sequence[Sku]) -> None:
    keys = {sku.code_key for sku in skus}
    taken = set(Sku.objects.filter(code_key__in=keys).values_list("code_key", flat=True))
    existing = [sku.code for sku in skus if sku.code_key in taken][:5]
    if existing:
        raise InvalidOperation(
            f"A SKU with code {existing[0]!r} already exists (codes match case-insensitively).",
            field="code",
            existing=existing,
        )


def location_create(*, code: str, name: str, priority: int = 100) -> Location:
    if Location.objects.filter(code=code).exists():
        raise InvalidOperation(f"A location with code {code!r} already exists.", field="code")
    return Location.objects.create(code=code, name=name, priority=priority)


def location_update(*, code: str, name: str | None = None, priority: int | None = None) -> Location:
    """Rename a location and/or change its priority (lowest first), in one transaction.
    The code stays: movements, channels and the API address the location by it."""
    changes: dict = {}
    if name is not None:
        name = name.strip()
        if not name:
            raise InvalidOperation("A location needs a name.", field="name")
        if len(name) > Location._meta.get_field("name").max_length:
            raise InvalidOperation(
                f"A location's name is at most {Location._meta.get_field('name').max_length} "
                f"characters; this one has {len(name)}.",
                field="name",
            )
        changes["name"] = name
    if priority is not None:
        if not 0 <= priority <= 1_000_000:
            raise InvalidOperation(
                "Priority is a whole number from 0 to 1,000,000.", field="priority"
            )
        changes["priority"] = priority
    with transaction.atomic():
        location = Location.objects.select_for_update().filter(code=code).first()
        if location is None:
            raise LocationNotFound(f"No location with code {code!r}.", location=code)
        for field, value in changes.items():
            setattr(location, field, value)
        if changes:
            location.save(update_fields=list(changes))
    return location

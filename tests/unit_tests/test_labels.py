"""The label table: a name for every code of the contract, human-readable, with diacritics."""

from __future__ import annotations

import re
import typing

import pytest

from dxpulse.schemas import events, labels
from dxpulse.schemas.events import values
from dxpulse.schemas.provinces import REGIONS, provinces

# Each labelled column of the models, and the Literal that defines its codes.
_CONTRACT = {
    "event_type": events.EventType,
    "area": events.Area,
    "channel": events.Channel,
    "status": events.Status,
    "method": events.PaymentMethod,
    "merchant_category": events.MerchantCategory,
    "platform": events.Platform,
    "product_category": events.ProductCategory,
    "payment_method": events.OrderPayment,
    "order_status": events.OrderStatus,
    "provider": events.MobileMoneyProvider,
    "kind": events.MobileMoneyKind,
}


def _is_enum(annotation: object) -> bool:
    """A Literal of several strings, alone or inside a union (``Kind | None``)."""
    if typing.get_origin(annotation) is typing.Literal:
        return len(typing.get_args(annotation)) > 1
    return any(_is_enum(a) for a in typing.get_args(annotation))


def _literal_fields() -> set[str]:
    """Every string-enum field of the three event models, read from the models themselves."""
    return {
        name
        for model in (events.OnlinePayment, events.EcommerceOrder, events.MobileMoney)
        for name, field in model.model_fields.items()
        if _is_enum(field.annotation)
    }


def test_every_enum_field_of_the_models_has_a_label_table():
    fields = _literal_fields()
    assert {"channel", "kind", "platform", "order_status"} <= fields
    assert fields <= set(labels.LABELS)


@pytest.mark.parametrize("dimension", sorted(_CONTRACT))
def test_each_table_names_exactly_the_contracts_codes(dimension: str):
    assert list(labels.LABELS[dimension]) == list(values(_CONTRACT[dimension]))


def test_a_table_out_of_step_with_the_contract_is_refused():
    with pytest.raises(ValueError, match=r"missing \['urban'\]"):
        labels._checked(events.Area, {"rural": "Rural"})
    with pytest.raises(ValueError, match=r"unknown \['suburban'\]"):
        labels._checked(events.Area, {"rural": "Rural", "urban": "Urban", "suburban": "S"})


@pytest.mark.parametrize("dimension", sorted(labels.LABELS))
def test_names_are_for_people_not_codes(dimension: str):
    for code, name in labels.LABELS[dimension].items():
        assert name and name != code
        assert not re.search(r"[a-z]_[a-z]", name), name


def test_provinces_and_regions_come_from_the_reference():
    assert dict(labels.LABELS["region"]) == REGIONS
    names = labels.LABELS["province_code"]
    assert len(names) == 63
    assert names["01"] == "Hà Nội" and names["79"] == provinces()["79"].name_vi
    assert names["79"] == "TP. Hồ Chí Minh"
    assert len(labels.LABELS["unit_2025_code"]) == 34


def test_an_unknown_code_is_shown_as_itself():
    assert labels.label("region", "red_river_delta") == "Red River Delta"
    assert labels.label("kind", "p2p_transfer") == "Person-to-person transfer"
    assert labels.label("kind", "") == ""
    assert labels.label("no_such_dimension", "x") == "x"

from __future__ import annotations

import pandas as pd
import pytest

from salesml.quality.contacts import (
    ContactColumns,
    check_email,
    check_phone,
    reasons_table,
    validate_contacts,
)


@pytest.mark.parametrize(
    ("phone", "region", "expected"),
    [
        ("+86 138 0013 8000", None, ("+8613800138000", None)),  # CN mobile, international form
        ("13800138000", "CN", ("+8613800138000", None)),  # CN mobile, national
        ("138-0013-8000", "CN", ("+8613800138000", None)),
        ("(010) 6552 9988", "CN", ("+861065529988", None)),  # Beijing landline
        ("021-5830-1234", "CN", ("+862158301234", None)),  # Shanghai landline
        ("+44 20 7946 0958", "CN", ("+442079460958", None)),  # the + wins over the default region
        ("1380013800", "CN", (None, "phone_invalid")),  # a digit short
        ("12345", "CN", (None, "phone_invalid")),
        ("n/a", "CN", (None, "phone_unparseable")),
        ("000", "CN", (None, "phone_invalid")),
    ],
)
def test_phone_reason_codes(phone, region, expected):
    assert check_phone(phone, region) == expected


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("John.Doe@Example.COM", ("john.doe@example.com", None)),
        ("li.wei@huaxin-tech.cn", ("li.wei@huaxin-tech.cn", None)),
        ("john.doe.example.com", (None, "email_invalid")),
        ("john@@example.com", (None, "email_invalid")),
        ("john..doe@example.com", (None, "email_invalid")),
        ("john doe@example.com", (None, "email_invalid")),
        ("john@example", (None, "email_invalid")),
    ],
)
def test_email_reason_codes_without_network(email, expected):
    assert check_email(email) == expected


def test_generated_invalid_contacts_are_detected_exactly(contacts, validated):
    truth = contacts.truth
    reasons = validated["quality_reasons"].str.split(";")
    email_code = reasons.map(lambda r: "missing" if "email_missing" in r else "invalid" if "email_invalid" in r else "valid")
    phone_code = reasons.map(
        lambda r: "missing" if "phone_missing" in r else "invalid" if {"phone_invalid", "phone_unparseable"} & set(r) else "valid")
    assert (email_code.to_numpy() == truth["email_status"].to_numpy()).all()
    assert (phone_code.to_numpy() == truth["phone_status"].to_numpy()).all()
    assert (truth["email_status"] == "invalid").sum() > 20 and (truth["phone_status"] == "invalid").sum() > 20
    assert validated["phone_e164"].notna().sum() == (truth["phone_status"] == "valid").sum()


def test_rows_in_equal_rows_out_and_user_columns_untouched(contacts, validated):
    assert len(validated) == len(contacts.records)
    assert validated.index.equals(contacts.records.index)
    pd.testing.assert_frame_equal(validated[contacts.records.columns], contacts.records)


def test_required_fields_too_long_values_and_replaced_bytes_are_per_row_reasons():
    frame = pd.DataFrame({
        "record_id": ["a", "b", "c", "d"],
        "company_name": ["Acme Ltd", None, "x" * 500, "Ac\ufffdme"],
        "contact_name": ["Jo", "Al", "", "Bo"],
        "email": ["jo@acme.com", None, "c@acme.com", "d@acme.com"],
        "phone": ["+86 138 0013 8000", "13800138000", None, "13800138000"],
    })
    out = validate_contacts(frame, default_region="CN")
    assert out["quality_reasons"].tolist() == [
        "",
        "email_missing;required_missing:company_name",
        "phone_missing;required_missing:contact_name;value_too_long:company_name",
        "encoding_replaced:company_name",
    ]
    counts = dict(zip(*reasons_table(out["quality_reasons"]).to_dict("list").values()))
    assert counts["email_missing"] == 1 and counts["required_missing:company_name"] == 1


def test_region_comes_from_the_record_then_the_default():
    frame = pd.DataFrame({"record_id": ["a", "b"], "phone": ["020 7946 0958", "020 7946 0958"], "country": ["GB", None]})
    out = validate_contacts(frame, ContactColumns(required=[]), default_region="CN")
    assert out["phone_e164"].tolist() == ["+442079460958", "+862079460958"]


def test_missing_contact_columns_give_a_clear_message():
    frame = pd.DataFrame({"record_id": ["a"], "name": ["x"]})
    with pytest.raises(ValueError, match="neither the e-mail column 'email' nor the phone column 'phone'"):
        validate_contacts(frame)
    with pytest.raises(ValueError, match="no id column 'record_id'"):
        validate_contacts(pd.DataFrame({"email": ["a@b.com"]}))
    with pytest.raises(ValueError, match="Required column 'company_name' is not in the table"):
        validate_contacts(pd.DataFrame({"record_id": ["a"], "email": ["a@b.com"]}), ContactColumns(required=["company_name"]))
    # by default only the company and person columns the table has are required
    out = validate_contacts(pd.DataFrame({"record_id": ["a"], "email": ["a@b.com"]}))
    assert out["quality_reasons"].tolist() == [""]

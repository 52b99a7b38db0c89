from __future__ import annotations

import pandas as pd
import pytest

from salesml.quality.normalise import (
    normalise_column,
    normalise_company,
    normalise_person,
    normalise_text,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme Trading Ltd.", "acme trading"),
        ("ACME TRADING LIMITED", "acme trading"),
        ("ＡＣＭＥ　Trading, L.L.C.", "acme trading"),
        ("Blue River GmbH", "blue river"),
        ("Blue River G.m.b.H.", "blue river"),
        ("Summit Labs PLC", "summit labs"),
        ("上海华信科技有限公司", "上海华信科技"),
        ("上海华信科技股份有限公司", "上海华信科技"),
        ("上海华信科技（有限公司）", "上海华信科技"),
        ("上海华信科技公司", "上海华信科技"),
        ("北京恒达集团有限公司", "北京恒达"),
        ("有限公司", "有限公司"),  # a suffix alone is kept rather than emptied
        ("Ltd", "ltd"),
        (None, None),
        ("  ", None),
    ],
)
def test_company_names_in_chinese_and_latin_script(raw, expected):
    assert normalise_company(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John Smith", "john smith"),
        ("Smith, John", "john smith"),
        ("SMITH JOHN", "john smith"),
        ("王 伟", "王伟"),
        ("王伟", "王伟"),
        ("Ｌｉ Ｗｅｉ", "li wei"),
    ],
)
def test_person_names_agree_across_order_case_and_width(raw, expected):
    assert normalise_person(raw) == expected


def test_text_normalisation_folds_width_case_and_punctuation_and_caps_length():
    assert normalise_text("  ＨＥＬＬＯ,,  World! ") == "hello world"
    assert normalise_text("０７５５－６１００") == "0755 6100"
    assert len(normalise_text("x" * 10_000)) == 200
    assert normalise_text(float("nan")) is None


def test_normalise_column_keeps_index_and_missing_values():
    s = pd.Series(["Acme Ltd", None, "acme limited"], index=[5, 7, 9])
    out = normalise_column(s, "company")
    assert out.index.tolist() == [5, 7, 9]
    assert out.tolist() == ["acme", None, "acme"]
    with pytest.raises(ValueError, match="how must be one of"):
        normalise_column(s, "address")

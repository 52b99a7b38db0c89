"""Text normalisation for matching: width, case, punctuation and company suffixes, Chinese and Latin.

Every function is pure and works on one string (``None`` for missing); :func:`normalise_column`
maps one over a pandas column. The goal is that two spellings a person reads as the same compare
equal: ``"ＡＣＭＥ  Trading, Ltd."`` and ``"Acme Trading Limited"`` both become ``"acme trading"``;
``"上海华信科技有限公司"`` and ``"上海华信科技（有限公司）"`` both become ``"上海华信科技"``.

* :func:`normalise_text`: Unicode NFKC (full-width letters, digits and spaces to their usual
  form), case folding, punctuation to spaces, whitespace collapsed.
* :func:`normalise_company`: the same, then legal-form suffixes removed (``Ltd``, ``Limited``,
  ``GmbH``, ``Inc``, ``LLC``, ``有限公司``, ``股份有限公司``...), repeatedly from the end.
* :func:`normalise_person`: the same as text, with name tokens sorted so that "Smith, John"
  and "John Smith" agree (Chinese names, written without spaces, are kept in order).
"""

from __future__ import annotations

import math
import re
import unicodedata

import pandas as pd

__all__ = [
    "COMPANY_SUFFIXES",
    "MAX_LENGTH",
    "normalise_column",
    "normalise_company",
    "normalise_person",
    "normalise_text",
]

#: Longest string compared; longer values are cut (and flagged by the contact checks).
MAX_LENGTH = 200

#: Legal-form suffixes removed from company names (after normalise_text, so lower case, no dots).
COMPANY_SUFFIXES = (
    # Chinese (longest first so that 股份有限公司 goes before 有限公司)
    "股份有限公司", "有限责任公司", "集团有限公司", "有限公司", "股份公司", "集团", "公司",
    # English
    "incorporated", "corporation", "limited", "company", "inc", "corp", "llc", "l l c", "ltd", "plc", "co",
    "llp", "lp",
    # German, French, Dutch, others
    "g m b h", "gmbh", "ag", "kg", "ug", "se", "sarl", "sas", "sa", "bv", "nv", "oy", "ab", "as", "spa", "srl",
)
_PUNCT = re.compile(r"[\W_]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_SUFFIX = re.compile(r"(?:^|\s)(?:" + "|".join(re.escape(s) for s in COMPANY_SUFFIXES if s.isascii()) + r")$")
_CJK_SUFFIXES = tuple(s for s in COMPANY_SUFFIXES if not s.isascii())


def normalise_text(value: object) -> str | None:
    """NFKC, case-folded, punctuation as single spaces, trimmed; ``None`` for missing or empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = unicodedata.normalize("NFKC", str(value))[:MAX_LENGTH].casefold()
    text = _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()
    return text or None


def normalise_company(value: object) -> str | None:
    """:func:`normalise_text`, then legal-form suffixes (Latin and Chinese) removed from the end."""
    text = normalise_text(value)
    while text:
        before = text
        for suffix in _CJK_SUFFIXES:
            if text.endswith(suffix):  # the longest suffix that ends the name; a name that is only a suffix stays
                text = text[: -len(suffix)].strip() if len(text) > len(suffix) else text
                break
        text = _LATIN_SUFFIX.sub("", text).strip() if " " in text else text
        if text == before:
            break
    return text or None


def normalise_person(value: object) -> str | None:
    """:func:`normalise_text` with Latin name tokens sorted; Chinese names (no spaces) stay as written."""
    text = normalise_text(value)
    if text is None:
        return None
    if _CJK.search(text):
        return text.replace(" ", "")
    return " ".join(sorted(text.split(" ")))


def normalise_column(values: pd.Series, how: str = "text") -> pd.Series:
    """Apply ``normalise_text`` / ``normalise_company`` / ``normalise_person`` (``how``) to a column."""
    funcs = {"text": normalise_text, "company": normalise_company, "person": normalise_person}
    if how not in funcs:
        raise ValueError(f"how must be one of {sorted(funcs)}. Got {how!r} instead.")
    func = funcs[how]
    # map over unique values: CRM columns repeat a lot (company names, cities)
    uniques = pd.unique(values.astype(object))
    lookup = {u: func(u) for u in uniques}
    out = values.astype(object).map(lookup).astype(object)
    return out.where(out.notna(), None)

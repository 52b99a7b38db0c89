"""Contact validity: phones parsed with ``phonenumbers``, e-mails checked with ``email-validator``.

:func:`validate_contacts` returns one row per input row (same order, same index), with the
normalised phone (E.164) and e-mail next to the original columns and a ``quality_reasons``
column: the reason codes of every problem found, ``;``-separated, empty when the row is clean.
Nothing is dropped and nothing in the user's columns is changed.

Reason codes (:data:`REASON_CODES`):

``email_missing`` / ``email_invalid``
    no e-mail / one that fails the syntax checks of email-validator (no network look-up:
    ``check_deliverability=False``).
``phone_missing`` / ``phone_unparseable`` / ``phone_invalid``
    no phone / text that is not a phone number / a number that cannot exist in its region
    (wrong length or prefix; CN mobile and landline numbers included).
``required_missing:<column>``
    a required field (see :class:`ContactColumns`; by default the company and person name) is empty.
``value_too_long:<column>``
    a value longer than :data:`~salesml.quality.normalise.MAX_LENGTH` characters (it is cut for matching).
``encoding_replaced:<column>``
    the text held bytes that were not valid UTF-8 (read with replacement characters).

The region of a phone comes from the record's country column when there is one, else from
``default_region``; numbers written with ``+`` carry their own.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache

import pandas as pd
from pydantic import BaseModel, ConfigDict

from .normalise import MAX_LENGTH

logger = logging.getLogger(__name__)

__all__ = ["REASON_CODES", "ContactColumns", "check_email", "check_phone", "reasons_table", "validate_contacts"]

REASON_CODES = (
    "email_missing", "email_invalid", "phone_missing", "phone_unparseable", "phone_invalid",
    "required_missing", "value_too_long", "encoding_replaced",
)
REASON_COLUMN = "quality_reasons"


class ContactColumns(BaseModel):
    """Which columns hold what (``None``: the table has no such column). Loaded from YAML ``columns:``."""

    model_config = ConfigDict(extra="forbid")

    id: str = "record_id"
    company: str | None = "company_name"
    person: str | None = "contact_name"
    email: str | None = "email"
    phone: str | None = "phone"
    country: str | None = "country"
    city: str | None = "city"
    address: str | None = "address"
    tax_id: str | None = "tax_id"
    updated_at: str | None = "updated_at"
    #: Fields every record must fill; ``None``: the company and person columns, where the table has them.
    required: list[str] | None = None

    def present(self, frame: pd.DataFrame) -> ContactColumns:
        """These columns with those the frame lacks set to ``None`` (the id must be there)."""
        if self.id not in frame.columns:
            raise ValueError(
                f"The table has no id column {self.id!r}; its columns are {list(map(str, frame.columns))[:20]}. "
                "Name the id column with columns.id in the quality settings (or --id on the command line)."
            )
        fields = {k: (v if v is None or v in frame.columns else None) for k, v in self.model_dump().items()
                  if k not in ("id", "required")}
        required = self.required if self.required is not None else [
            c for c in (fields["company"], fields["person"]) if c is not None]
        return ContactColumns(id=self.id, required=required, **fields)


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


@lru_cache(maxsize=200_000)
def check_email(value: str) -> tuple[str | None, str | None]:
    """``(normalised e-mail, None)`` or ``(None, "email_invalid")``; syntax only, no network."""
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None, "email_invalid"
    local, _, domain = result.normalized.rpartition("@")
    return f"{local.lower()}@{domain.lower()}", None


@lru_cache(maxsize=200_000)
def check_phone(value: str, region: str | None) -> tuple[str | None, str | None]:
    """``(E.164 number, None)``, ``(None, "phone_unparseable")`` or ``(None, "phone_invalid")``."""
    import phonenumbers

    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None, "phone_unparseable"
    if not phonenumbers.is_valid_number(number):
        return None, "phone_invalid"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def _region(value: object, default: str | None) -> str | None:
    if _missing(value):
        return default
    code = str(value).strip().upper()
    return code if len(code) == 2 and code.isalpha() else default


def validate_contacts(
    frame: pd.DataFrame,
    columns: ContactColumns | None = None,
    *,
    default_region: str | None = "CN",
) -> pd.DataFrame:
    """``frame`` plus ``email_normalised``, ``phone_e164`` and ``quality_reasons`` (rows in = rows out).

    Raises ``ValueError`` (naming the columns) when the table has neither an e-mail nor a phone column:
    there is nothing to validate then, which is almost always a column-mapping mistake.
    """
    cols = (columns or ContactColumns()).present(frame)
    if cols.email is None and cols.phone is None:
        wanted = (columns or ContactColumns())
        raise ValueError(
            f"The table has neither the e-mail column {wanted.email!r} nor the phone column {wanted.phone!r}; "
            f"its columns are {list(map(str, frame.columns))[:20]}. Map them with columns.email / columns.phone."
        )
    n = len(frame)
    reasons: list[list[str]] = [[] for _ in range(n)]
    email_out: list[str | None] = [None] * n
    phone_out: list[str | None] = [None] * n
    if cols.email is not None:
        for i, value in enumerate(frame[cols.email].tolist()):
            if _missing(value):
                reasons[i].append("email_missing")
                continue
            email_out[i], why = check_email(str(value)[: MAX_LENGTH * 2])
            if why:
                reasons[i].append(why)
    if cols.phone is not None:
        regions = frame[cols.country].tolist() if cols.country else [None] * n
        for i, (value, reg) in enumerate(zip(frame[cols.phone].tolist(), regions)):
            if _missing(value):
                reasons[i].append("phone_missing")
                continue
            phone_out[i], why = check_phone(str(value)[:64], _region(reg, default_region))
            if why:
                reasons[i].append(why)
    for name in cols.required:
        if name not in frame.columns:
            raise ValueError(f"Required column {name!r} is not in the table; its columns are "
                             f"{list(map(str, frame.columns))[:20]}. Drop it from required or map it.")
        for i in _flatnonzero(frame[name].map(_missing)):
            reasons[i].append(f"required_missing:{name}")
    text_cols = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
    for name in text_cols:
        s = frame[name].astype(object)
        is_str = s.map(lambda v: isinstance(v, str))
        lengths = s.where(is_str, "").map(len)
        for i in _flatnonzero(lengths > MAX_LENGTH):
            reasons[i].append(f"value_too_long:{name}")
        for i in _flatnonzero(s.where(is_str, "").str.contains("\ufffd", regex=False)):
            reasons[i].append(f"encoding_replaced:{name}")
    out = frame.copy()
    out["email_normalised"] = pd.Series(email_out, index=frame.index, dtype=object)
    out["phone_e164"] = pd.Series(phone_out, index=frame.index, dtype=object)
    out[REASON_COLUMN] = pd.Series([";".join(r) for r in reasons], index=frame.index, dtype=object)
    logger.info("validated %d contacts: %d with at least one problem", n, sum(bool(r) for r in reasons))
    return out


def _flatnonzero(mask: pd.Series) -> Sequence[int]:
    return [i for i, flag in enumerate(mask.tolist()) if flag]


def reasons_table(reasons: pd.Series) -> pd.DataFrame:
    """Counts per reason code (``required_missing:x`` kept per column): ``reason``, ``rows``."""
    codes = reasons.fillna("").astype(str).str.split(";").explode()
    codes = codes[codes != ""]
    counts = codes.value_counts().sort_index()
    return pd.DataFrame({"reason": counts.index.astype(str), "rows": counts.to_numpy(dtype="int64")})

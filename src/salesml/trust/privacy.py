"""The personal-data guard: find direct identifiers, keep them out of models, pseudonymise ids.

Customer and lead data is personal data (PIPL, the Data Security Law, GDPR).
salesml keeps it out of everything a run leaves behind (MLflow params, tags,
metrics, artifacts, input examples, plots, logs) by three rules:

1. **Detect.** Before the encoder learns anything, every column is checked by
   its *name* (``email``, ``phone``, ``contact_name``, ``national_id``,
   ``customer_id``...; see :func:`looks_personal`) and by its *content*
   (values that look like e-mail addresses, phone numbers, national id numbers,
   person names, fixed-length id numbers, or free text full of contact details;
   see :func:`personal_reason`). Findings are reported as column names and
   reasons only (:func:`report`), never values.
2. **Exclude.** Such columns are never features unless the experiment lists
   them under ``columns.allow_personal``. Free text that only *sometimes*
   carries contact details (an inquiry saying "call me on ...") stays a
   feature, but e-mail addresses, web addresses and phone/id numbers are cut
   out before tokenising (:func:`scrub_text`), tokens must appear in many rows,
   and common given names and surnames never become tokens.
3. **Pseudonymise** ids that must travel through outputs (scores written back
   to a CRM, rows named in error messages) with keyed hashing: HMAC-SHA256 with
   the key in ``SALESML_PSEUDONYM_KEY`` (:class:`Pseudonymiser`). Whoever holds
   the key can recompute a pseudonym from an id to join results back; without
   it a pseudonym reveals nothing, and nobody can enumerate ids to reverse it.

Error messages: values of personal-looking columns are never echoed. Row keys
(e.g. ``lead_id=L0000042``) are shown so the data owner can fix the rows; when
``SALESML_PSEUDONYM_KEY`` is set they are shown as the row position plus the
pseudonym instead (:func:`describe_key`), so console logs of scheduled jobs hold
no raw ids either.

Detection is heuristic: it catches the usual CRM fields, not every way a
person can be described. :func:`report` lists what was found and what was
used, so a reviewer can check the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesml.trust.keys import PSEUDONYM_KEY_ENV, check_key, key_from_env, key_id

logger = logging.getLogger(__name__)

__all__ = [
    "PersonalColumn",
    "Pseudonymiser",
    "looks_personal",
    "personal_reason",
    "scan",
    "report",
    "scrub_text",
    "has_contact_details",
    "contact_share",
    "is_common_name",
    "pseudonymise",
    "describe_key",
    "redact_values",
]

# ----------------------------------------------------------------- by name
#: Last words of column names that announce personal data ("contact_email", "phone", "first_name");
#: "email_opens" or "phone_calls" are behaviour counts and stay features.
PERSONAL_LAST_WORDS = frozenset(
    "email mail emailaddress phone mobile telephone tel fax cell name names firstname lastname surname "
    "fullname address street zip zipcode postcode postalcode passport ssn iban birthday birthdate dob "
    "nationalid idcard contact person owner assignee salesperson rep ip ipaddress wechat whatsapp "
    "linkedin twitter skype".split()
)
#: Whole phrases that announce personal data anywhere in a name: contact details, national ids,
#: and identifiers of people (``customer_id``, ``ContactKey``, ``user_uuid``).
PERSONAL_NAME_PATTERN = re.compile(
    r"(e[-_ ]?mail[-_ ]?address|phone[-_ ]?number|national[-_ ]?id|id[-_ ]?card|date[-_ ]?of[-_ ]?birth|tax[-_ ]?id"
    r"|social[-_ ]?security|(customer|client|lead|account|contact|user|person|member|employee|owner|visitor"
    r"|cookie|device|patient)[-_ ]?(id|key|no|nr|number|uuid|guid)$)",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[^0-9a-zA-Z]+|(?<=[a-z])(?=[A-Z])")


def looks_personal(column: str) -> bool:
    """Whether a column's *name* says it holds direct identifiers (contact details, names, ids of people)."""
    words = [w for w in _WORDS.split(column) if w]
    if not words:
        return False
    return words[-1].lower() in PERSONAL_LAST_WORDS or bool(PERSONAL_NAME_PATTERN.search(column))


# -------------------------------------------------------------- by content
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_DATE_LIKE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}/\d{1,2}/\d{1,2})")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,}$")
_NATIONAL_ID = re.compile(
    r"^(\d{6}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dXx]"  # PRC resident identity card
    r"|\d{3}-\d{2}-\d{4}"  # US social security number
    r"|[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])$"  # UK national insurance number
)
#: Inside free text: e-mail addresses, web addresses, and runs of 7+ digits with phone punctuation.
_EMBEDDED = re.compile(
    r"[^\s@<>()\[\]]+@[^\s@<>()\[\]]+\.[A-Za-z]{2,}"
    r"|(?:https?://|www\.)\S+"
    # phone or id numbers: 7-18 digits with phone punctuation; not dates or times, not inside words
    r"|(?<![\w.+/:-])(?!\d{4}[-/.]\d{1,2}[-/.]\d{1,2})(?!\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
    r"(?!\d+[.,]\d{1,2}\b(?![.-]\d))\+?\d(?:[\s().-]{0,2}\d){6,17}[Xx]?(?![\w:]|[.,]\d)",
)
_NAME_WORD = re.compile(r"^[A-Z][a-z'\-]+$")

#: Common given names and surnames (several languages). Used to recognise columns of person
#: names by content and to keep names out of text vocabularies. Lower case.
COMMON_NAMES = frozenset(
    """
    james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony mark
    donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob gary
    nicholas eric jonathan stephen larry justin scott brandon benjamin samuel frank gregory raymond alexander patrick
    jack dennis jerry tyler aaron peter henry adam nathan zachary kyle walter harold carl arthur lawrence roger
    mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret sandra ashley
    kimberly emily donna michelle carol amanda dorothy melissa deborah stephanie rebecca sharon laura cynthia kathleen
    amy angela shirley anna brenda pamela emma nicole helen samantha katherine christine debra rachel carolyn janet
    catherine maria heather diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn judith
    megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances kathryn janice jean abigail
    alice judy sophia grace denise amber doris marilyn danielle beverly isabella theresa diana natalie brittany
    charlotte marie kayla alexis lori sophie lucas noah liam oliver elijah mia ava chloe lily zoe leo max finn
    hans klaus jurgen stefan andreas thomas wolfgang petra ursula sabine monika pierre jean luc francois nicolas
    camille manon chloe louis jose juan carlos luis miguel javier antonio francisco manuel pedro jorge alejandro
    sofia lucia carmen ana laura paula marco giuseppe giovanni francesco alessandro giulia chiara
    wei jing li min hui ying lei jun yan ling fang xin hao yu ming hong jie tao chen yang huang zhao wu zhou xu
    sun ma zhu hu guo he lin gao luo zheng liang xie song tang deng han feng cao peng zeng xiao tian dong pan yuan
    cai jiang wang zhang liu
    raj priya amit anil sunil rahul ravi sanjay vijay deepak pooja neha anjali sunita kumar singh sharma gupta patel
    smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson
    anderson taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson walker
    young allen king wright hill scott green adams baker nelson carter mitchell roberts turner phillips campbell
    parker evans edwards collins stewart morris murphy cook rogers morgan cooper peterson reed bailey bell kelly
    howard ward cox richardson wood watson brooks bennett gray james hughes price sanders myers long ross foster
    muller schmidt schneider fischer weber meyer wagner becker schulz hoffmann dubois durand leroy moreau simon
    laurent rossi russo ferrari esposito bianchi romano silva santos oliveira souza pereira costa kim park choi
    nguyen tran pham hoang tanaka suzuki takahashi watanabe ito yamamoto nakamura kobayashi
    """.split()
)


def is_common_name(word: str) -> bool:
    """Whether ``word`` is a common given name or surname (case-insensitive)."""
    return word.lower() in COMMON_NAMES


def _share(mask: pd.Series) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def _looks_like_person_name(value: str) -> bool:
    words = value.split()
    if not 1 <= len(words) <= 4 or not all(_NAME_WORD.match(w) for w in words):
        return False
    return is_common_name(words[0]) or is_common_name(words[-1])


def contact_share(values: pd.Series) -> float:
    """Share of (text) values that contain an e-mail address, a web address or a phone/id number."""
    text = values.dropna().astype(str)
    return _share(text.map(has_contact_details)) if len(text) else 0.0


#: A free-text column whose values carry contact details this often is a contact field (excluded);
#: less often, it is a message body whose contact details are scrubbed before tokenising.
CONTACT_FIELD_SHARE = 0.3
#: Share of sampled values that must match a pattern for a column to be called e-mail / phone / ids / names.
MATCH_SHARE = 0.5
_SAMPLE = 500


def personal_reason(name: str, values: pd.Series) -> str | None:
    """Why a column holds direct identifiers, by its name or content; ``None`` when it does not seem to."""
    if looks_personal(name):
        return "its name suggests personal data"
    non_null = values.dropna()
    if len(non_null) == 0:
        return None
    if pd.api.types.is_integer_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return _integer_id_reason(non_null)
    string_like = (
        pd.api.types.is_string_dtype(values.dtype)
        or pd.api.types.is_object_dtype(values.dtype)
        or isinstance(values.dtype, pd.CategoricalDtype)
    )
    if not string_like:
        return None
    sample = non_null.astype(str).str.strip().head(_SAMPLE)
    if _share(sample.str.match(_EMAIL)) > MATCH_SHARE:
        return "its values look like e-mail addresses"
    if _share(sample.str.fullmatch(_NATIONAL_ID)) > MATCH_SHARE:
        return "its values look like national id numbers"
    if _share(_phone_like(sample)) > MATCH_SHARE:
        return "its values look like phone numbers"
    if _share(sample.map(_looks_like_person_name)) > MATCH_SHARE:
        return "its values look like person names"
    share = contact_share(sample)
    if share >= CONTACT_FIELD_SHARE:
        return f"{share:.0%} of its values contain contact details (e-mail, web address or phone number)"
    return None


def _phone_like(values: pd.Series) -> pd.Series:
    """Phone-number-like strings: 7-15 digits with phone punctuation (or 10+ bare digits), not dates."""
    digits = values.str.count(r"\d")
    punctuated = values.str.contains(r"[\s()+-]") & ~values.str.contains(r"\.\d{1,2}$")
    bare = values.str.fullmatch(r"\d{10,15}")
    return values.str.match(_PHONE) & ~values.str.match(_DATE_LIKE) & digits.between(7, 15) & (punctuated | bare)


def _integer_id_reason(non_null: pd.Series) -> str | None:
    """Integers that are nearly all different and of one length (>= 7 digits) are ids or phone numbers."""
    if len(non_null) < 50:
        return None
    sample = non_null.head(5_000).astype(np.int64)
    if sample.nunique() < 0.95 * len(sample) or (sample <= 0).any():
        return None
    lengths = np.floor(np.log10(sample.to_numpy(dtype=np.float64))).astype(int) + 1
    common = np.bincount(lengths).argmax()
    if common >= 7 and (lengths == common).mean() >= 0.9:
        return "its values look like id or phone numbers (nearly all different, same number of digits)"
    return None


_RANGE = re.compile(r"^(\d{1,5})\s?-\s?(\d{1,4}0)$")


def _is_contact(match: re.Match) -> bool:
    """A found span is contact data unless it is a range such as a company size "1001-5000"."""
    m = _RANGE.match(match.group(0))
    return not (m and int(m.group(1)) < int(m.group(2)))


#: Every contact detail holds one of these; most texts hold none, and this test is much faster.
_MAYBE_CONTACT = re.compile(r"[@\d]|www\.|://")


def has_contact_details(text: str) -> bool:
    """Whether ``text`` contains an e-mail address, a web address or a phone/id number."""
    return bool(_MAYBE_CONTACT.search(text)) and any(_is_contact(m) for m in _EMBEDDED.finditer(text))


def scrub_text(text: str) -> str:
    """``text`` with e-mail addresses, web addresses and phone/id numbers removed."""
    if not _MAYBE_CONTACT.search(text):
        return text
    return _EMBEDDED.sub(lambda m: " " if _is_contact(m) else m.group(0), text)


# ---------------------------------------------------------------- reports
@dataclass(frozen=True)
class PersonalColumn:
    """One finding of the guard: a column, why it looks personal, and what salesml did with it."""

    column: str
    reason: str
    action: str  # "excluded" | "allowed" | "scrubbed"


def scan(frame: pd.DataFrame, *, allow: Iterable[str] = (), skip: Iterable[str] = ()) -> list[PersonalColumn]:
    """Check every column of ``frame`` (except ``skip``) by name and content; values are never returned."""
    allowed, skipped = set(allow), set(skip)
    found: list[PersonalColumn] = []
    for name in frame.columns:
        name = str(name)
        if name in skipped:
            continue
        reason = personal_reason(name, frame[name])
        if reason is not None:
            found.append(PersonalColumn(name, reason, "allowed" if name in allowed else "excluded"))
        elif frame[name].dtype == object or pd.api.types.is_string_dtype(frame[name].dtype):
            share = contact_share(frame[name].head(_SAMPLE))
            if share > 0:
                found.append(
                    PersonalColumn(
                        name,
                        f"{share:.1%} of sampled values contain contact details; they are cut out of text "
                        "before tokenising and never kept as categories",
                        "scrubbed",
                    )
                )
    return found


def report(encoder: Any) -> dict[str, Any]:
    """What the guard decided for a fitted :class:`~salesml.core.features.TabularEncoder` (names and reasons only)."""
    findings = [asdict(p) for p in getattr(encoder, "personal_", [])]
    return {
        "personal_columns": findings,
        "excluded": sorted(p["column"] for p in findings if p["action"] == "excluded"),
        "allowed": sorted(p["column"] for p in findings if p["action"] == "allowed"),
        "features_from": sorted(p.name for p in encoder.columns_ if p.is_feature),
        "note": "Values are never recorded here. 'allowed' columns were listed under columns.allow_personal; "
        "their categories or tokens may be stored in the model artifact.",
    }


# ---------------------------------------------------------- pseudonymising
class Pseudonymiser:
    """Keyed hashing (HMAC-SHA256) of identifiers.

    The same id and key always give the same pseudonym, so outputs can be
    joined back by whoever holds the key; a different key gives unrelated
    pseudonyms. Missing values stay missing.

    Parameters
    ----------
    key : the secret (use :meth:`from_env` to read ``SALESML_PSEUDONYM_KEY``).
    length : hex characters kept (32 = 128 bits: collisions are not a concern).
    prefix : marks pseudonyms so nobody mistakes them for real ids.
    """

    def __init__(self, key: str | bytes, *, length: int = 32, prefix: str = "ps_"):
        self.key = check_key(key, env=PSEUDONYM_KEY_ENV)
        if not 16 <= length <= 64:
            raise ValueError(f"length must be between 16 and 64 hex characters. Got {length} instead.")
        self.length = length
        self.prefix = prefix

    @classmethod
    def from_env(cls, **kwargs: Any) -> Pseudonymiser:
        """A pseudonymiser keyed by ``SALESML_PSEUDONYM_KEY`` (refused when empty, short or a placeholder)."""
        key = key_from_env(PSEUDONYM_KEY_ENV, required=True)
        assert key is not None
        return cls(key, **kwargs)

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    def one(self, value: Any) -> str:
        digest = hmac.new(self.key, _canonical(value).encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{self.prefix}{digest[: self.length]}"

    def __call__(self, values: pd.Series) -> pd.Series:
        out = pd.Series([None if _missing(v) else self.one(v) for v in values], index=values.index, dtype=object)
        return out.rename(values.name)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _canonical(value: Any) -> str:
    """One text per id: 42, 42.0 and "42" give the same pseudonym."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def pseudonymise(frame: pd.DataFrame, columns: Sequence[str], *, key: str | bytes | None = None) -> pd.DataFrame:
    """A copy of ``frame`` whose ``columns`` hold pseudonyms (key: argument, else ``SALESML_PSEUDONYM_KEY``)."""
    p = Pseudonymiser(key) if key is not None else Pseudonymiser.from_env()
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"Cannot pseudonymise {missing}: not columns of the frame ({list(frame.columns)[:10]}...).")
    out = frame.copy()
    for c in columns:
        out[c] = p(out[c])
    return out


_ENV_PSEUDONYMISER: tuple[str | None, Pseudonymiser | None] = (None, None)


def _env_pseudonymiser() -> Pseudonymiser | None:
    """The pseudonymiser of ``SALESML_PSEUDONYM_KEY`` when set (cached per key), else ``None``."""
    global _ENV_PSEUDONYMISER
    raw = os.environ.get(PSEUDONYM_KEY_ENV)
    if raw is None:
        return None
    if _ENV_PSEUDONYMISER[0] != raw:
        _ENV_PSEUDONYMISER = (raw, Pseudonymiser(raw))
    return _ENV_PSEUDONYMISER[1]


def describe_key(column: str, value: Any, position: Any) -> str:
    """How a message names a row: ``lead_id=L0042``, or ``row 17 (lead_id ps_3f9a...)`` when a pseudonym key is set."""
    p = _env_pseudonymiser()
    if p is None:
        return f"{column}={value}"
    return f"row {position} ({column} {p.one(value)})"


def redact_values(column: str, values: Iterable[Any]) -> list[str]:
    """Values of a key column as a message may show them (pseudonyms when a key is set)."""
    p = _env_pseudonymiser()
    return [str(v) if p is None else p.one(v) for v in values]

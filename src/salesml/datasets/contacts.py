"""CRM contact records with planted duplicates and invalid contact details, and the truth behind them.

:func:`make_contacts` builds a customer master table the way it looks after years of manual entry
and imports: every *entity* (one customer: a contact person at a company) has one original record,
and a share of entities has one to ``max_duplicates`` extra records that differ from it the way
real duplicates do:

* **typos** in the person or company name (a swapped, dropped, doubled or substituted character);
* **format variants**: company suffixes written another way (``Ltd`` / ``Limited`` / ``Ltd.``,
  ``有限公司`` / ``公司`` / none), upper case, full-width characters in Chinese records, phones
  written as ``+86 138 0013 8000`` / ``13800138000`` / ``138-0013-8000``, e-mails in mixed case;
* **transposed fields**: a Latin name written surname first;
* **changes and gaps**: a new e-mail or phone, a missing e-mail, phone, address or tax id.

Names, companies and addresses are in Latin script (CN/US/GB/DE records) or Chinese (CN records);
distinct entities may share a company (and its tax id), a common name or a city, so that no single
field identifies an entity. Independently, a share of records gets a syntactically invalid e-mail
(no ``@``, two dots in a row, a space, no top-level domain) or an invalid phone (digits dropped or
added, a placeholder such as ``000``).

The truth table gives, per ``record_id``: ``entity_id`` (the true cluster), ``is_original``, and
``email_status`` / ``phone_status`` in ``{"valid", "invalid", "missing"}``. Tests and benchmarks
measure duplicate detection (pairwise precision / recall) and contact validation against it.
Everything is driven by one ``np.random.default_rng`` seed: the same arguments give identical frames.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._common import _check_count, _rng

__all__ = ["CONTACT_COLUMNS", "ContactsData", "make_contacts"]

#: Columns of :attr:`ContactsData.records`, in order.
CONTACT_COLUMNS = (
    "record_id", "company_name", "contact_name", "email", "phone", "country", "city", "address", "tax_id",
    "updated_at",
)

# --------------------------------------------------------------------------- vocabularies
_LATIN_FIRST = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth",
    "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Margaret", "Donald", "Sandra",
    "Steven", "Ashley", "Paul", "Kimberly", "Andrew", "Emily", "Joshua", "Donna", "Kenneth", "Michelle",
    "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa", "Timothy", "Deborah", "Ronald", "Stephanie",
    "Lukas", "Anna", "Felix", "Lena", "Jonas", "Marie", "Oliver", "Sophie", "Harry", "Amelia",
)
_LATIN_LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Muller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Evans", "Hughes",
)
_LATIN_WORDS = (
    "Apex", "Blue", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iron", "Juniper", "Keystone",
    "Lumen", "Maple", "Nimbus", "Orbit", "Pioneer", "Quartz", "River", "Summit", "Titan", "Unity", "Vertex",
    "Willow", "Zenith", "Atlas", "Beacon", "Crest", "Dynamo", "Echo", "Frontier", "Golden", "Horizon",
)
_LATIN_TRADES = (
    "Logistics", "Software", "Foods", "Retail", "Energy", "Health", "Finance", "Media", "Machines", "Textiles",
    "Systems", "Consulting", "Labs", "Trading", "Motors", "Pharma",
)
_LATIN_SUFFIXES = {"US": ("Inc", "LLC", "Corp"), "GB": ("Ltd", "Limited", "PLC"), "DE": ("GmbH", "AG")}
_SUFFIX_VARIANTS = {
    "Inc": ("Inc.", "Incorporated", ""), "LLC": ("L.L.C.", ""), "Corp": ("Corp.", "Corporation", ""),
    "Ltd": ("Ltd.", "Limited", ""), "Limited": ("Ltd", "Ltd.", ""), "PLC": ("plc", ""),
    "GmbH": ("G.m.b.H.", ""), "AG": ("",),
}
_LATIN_STREETS = ("Main", "Oak", "Park", "High", "Church", "Station", "Mill", "King", "Queen", "Bahnhof", "Lake")
_LATIN_CITIES = {
    "US": ("New York", "San Francisco", "Chicago", "Boston", "Seattle"),
    "GB": ("London", "Manchester", "Leeds"),
    "DE": ("Berlin", "Hamburg", "Munich"),
}
_EMAIL_DOMAINS_FREE = ("gmail.com", "outlook.com", "yahoo.com", "163.com", "qq.com")

# Chinese surnames and given-name characters with their pinyin (e-mail local parts are romanised)
_CN_SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("黄", "huang"),
    ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"),
    ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"), ("郑", "zheng"),
    ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"), ("许", "xu"), ("韩", "han"), ("冯", "feng"),
)
_CN_GIVEN = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
    ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"),
    ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"),
    ("桂", "gui"), ("英", "ying"), ("华", "hua"), ("玉", "yu"), ("兰", "lan"), ("萍", "ping"), ("鹏", "peng"),
    ("辉", "hui"), ("建", "jian"), ("国", "guo"), ("文", "wen"), ("斌", "bin"), ("宇", "yu"), ("浩", "hao"),
    ("凯", "kai"), ("晨", "chen"), ("雪", "xue"), ("琳", "lin"), ("婷", "ting"),
)
_CN_CITIES = (("北京", "010", "bj"), ("上海", "021", "sh"), ("广州", "020", "gz"), ("深圳", "0755", "sz"),
              ("杭州", "0571", "hz"), ("成都", "028", "cd"))
_CN_DISTRICTS = ("朝阳区", "浦东新区", "天河区", "南山区", "西湖区", "武侯区", "海淀区", "徐汇区")
_CN_STREETS = ("人民路", "中山路", "解放路", "建设路", "和平路", "长江路", "科技路", "新华路")
_CN_WORDS = (("华信", "huaxin"), ("恒达", "hengda"), ("天润", "tianrun"), ("金鼎", "jinding"), ("瑞丰", "ruifeng"),
             ("东方", "dongfang"), ("远航", "yuanhang"), ("博创", "bochuang"), ("中联", "zhonglian"),
             ("新锐", "xinrui"), ("宏图", "hongtu"), ("嘉禾", "jiahe"), ("盛世", "shengshi"), ("银河", "yinhe"))
_CN_TRADES = (("科技", "tech"), ("贸易", "trade"), ("物流", "logistics"), ("食品", "foods"), ("医药", "pharma"),
              ("软件", "soft"), ("机械", "machinery"), ("传媒", "media"))
_CN_SUFFIXES = ("有限公司", "股份有限公司", "有限责任公司")
_CN_SUFFIX_VARIANTS = {"有限公司": ("公司", "", "（有限公司）"), "股份有限公司": ("股份公司", "有限公司", ""),
                       "有限责任公司": ("有限公司", "公司", "")}
_CN_MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "138", "139", "150", "151", "158", "186", "188", "189")
_US_AREAS = ("212", "415", "312", "617", "206")
_QWERTY_NEIGHBOURS = dict(zip("abcdefghijklmnopqrstuvwxyz", (
    "qs", "vn", "xv", "sf", "wr", "dg", "fh", "gj", "uo", "hk", "jl", "kp", "nk", "bm", "ip", "ol", "wa", "et",
    "ad", "ry", "yi", "cb", "qe", "zc", "tu", "xa")))


@dataclass(frozen=True, eq=False)
class ContactsData:
    """Contact records (:data:`CONTACT_COLUMNS`) and their truth (one row per record, same order).

    ``truth`` columns: ``record_id``, ``entity_id`` (the true cluster), ``is_original``,
    ``email_status`` and ``phone_status`` (``"valid"``, ``"invalid"`` or ``"missing"``).
    """

    records: pd.DataFrame = field(repr=False)
    truth: pd.DataFrame = field(repr=False)

    def true_pairs(self) -> set[tuple[str, str]]:
        """Every pair of records of the same entity, as ``(smaller record_id, larger record_id)``."""
        pairs: set[tuple[str, str]] = set()
        for ids in self.truth.groupby("entity_id", sort=False)["record_id"]:
            members = sorted(ids[1])
            pairs.update((a, b) for i, a in enumerate(members) for b in members[i + 1:])
        return pairs

    def __repr__(self) -> str:
        n_ent = self.truth["entity_id"].nunique()
        return f"ContactsData(records={len(self.records):,} rows, entities={n_ent:,})"


# --------------------------------------------------------------------------- entities
def _latin_entity(rng: np.random.Generator, country: str, company: tuple[str, str, str], uid: int) -> dict:
    first, last = rng.choice(_LATIN_FIRST), rng.choice(_LATIN_LAST)
    name, suffix, domain = company
    city = str(rng.choice(_LATIN_CITIES[country]))
    street = f"{rng.integers(1, 2000)} {rng.choice(_LATIN_STREETS)} {'Straße' if country == 'DE' else 'Street'}"
    style = rng.integers(3)
    local = (f"{first}.{last}" if style == 0 else f"{first[0]}{last}" if style == 1 else f"{first}{rng.integers(10, 99)}")
    domain = domain if rng.random() < 0.7 else str(rng.choice(_EMAIL_DOMAINS_FREE))
    return {
        "company_name": f"{name} {suffix}", "contact_name": f"{first} {last}", "first": str(first), "last": str(last),
        "email": f"{local.lower()}@{domain}", "phone": _latin_phone(rng, country),
        "country": country, "city": city, "address": f"{street}, {city}", "script": "latin",
    }


def _latin_phone(rng: np.random.Generator, country: str) -> str:
    if country == "US":
        exchange = rng.integers(200, 999)
        exchange = 556 if exchange in (555, 211, 311, 411, 511, 611, 711, 811, 911) else exchange
        return f"+1 {rng.choice(_US_AREAS)} {exchange} {rng.integers(0, 10_000):04d}"
    if country == "GB":
        return f"+44 20 7{rng.integers(100, 1000)} {rng.integers(0, 10_000):04d}"
    return f"+49 30 {rng.integers(2_000_000, 9_999_999)}"


def _cn_entity(rng: np.random.Generator, company: tuple[str, str, str], uid: int) -> dict:
    sur = _CN_SURNAMES[rng.integers(len(_CN_SURNAMES))]
    given = [_CN_GIVEN[i] for i in rng.integers(len(_CN_GIVEN), size=rng.integers(1, 3))]
    name, suffix, domain = company
    city, area, _ = _CN_CITIES[rng.integers(len(_CN_CITIES))]
    local = sur[1] + "".join(g[1] for g in given)
    if rng.random() < 0.5:
        phone = f"+86 {rng.choice(_CN_MOBILE_PREFIXES)} {rng.integers(0, 10_000):04d} {rng.integers(0, 10_000):04d}"
    else:
        phone = f"({area}) {rng.integers(5, 7)}{rng.integers(0, 10 ** 7):07d}"
    domain = domain if rng.random() < 0.6 else str(rng.choice(_EMAIL_DOMAINS_FREE))
    street = f"{city}市{rng.choice(_CN_DISTRICTS)}{rng.choice(_CN_STREETS)}{rng.integers(1, 999)}号"
    return {
        "company_name": f"{city}{name}{suffix}", "contact_name": sur[0] + "".join(g[0] for g in given),
        "first": "", "last": "", "email": f"{local}@{domain}", "phone": phone, "country": "CN",
        "city": city, "address": street, "script": "cn",
    }


def _company_pool(rng: np.random.Generator, n: int, chinese_share: float) -> list[tuple[str, str, str, str, str]]:
    """(country, base name, suffix, e-mail domain, tax id) per company."""
    pool = []
    for k in range(n):
        if rng.random() < chinese_share:
            w, t = _CN_WORDS[rng.integers(len(_CN_WORDS))], _CN_TRADES[rng.integers(len(_CN_TRADES))]
            alias = _CN_CITIES[rng.integers(len(_CN_CITIES))][2]
            pool.append(("CN", w[0] + t[0], str(rng.choice(_CN_SUFFIXES)), f"{w[1]}{t[1]}{alias}{k % 89}.cn",
                         f"91{rng.integers(10**15, 10**16)}X"))
        else:
            country = str(rng.choice(("US", "GB", "DE")))
            w, t = rng.choice(_LATIN_WORDS), rng.choice(_LATIN_TRADES)
            tld = {"US": "com", "GB": "co.uk", "DE": "de"}[country]
            pool.append((country, f"{w} {t}", str(rng.choice(_LATIN_SUFFIXES[country])),
                         f"{str(w).lower()}{str(t).lower()}{k % 89}.{tld}", f"{country}{rng.integers(10**8, 10**9)}"))
    return pool


# --------------------------------------------------------------------------- variations
def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 3:
        return text
    i = int(rng.integers(1, len(text) - 1))
    kind = rng.integers(4)
    if kind == 0:  # swap adjacent
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if kind == 1:  # drop
        return text[:i] + text[i + 1:]
    if kind == 2:  # double
        return text[:i] + text[i] + text[i:]
    c = text[i].lower()
    if c in _QWERTY_NEIGHBOURS:
        return text[:i] + str(rng.choice(list(_QWERTY_NEIGHBOURS[c]))) + text[i + 1:]
    if "\u4e00" <= text[i] <= "\u9fff":  # a Chinese character replaced by another common one
        return text[:i] + _CN_GIVEN[rng.integers(len(_CN_GIVEN))][0] + text[i + 1:]
    return text[:i] + text[i + 1:]


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text)


def _phone_variant(rng: np.random.Generator, phone: str, country: str) -> str:
    """The same number written another way: national with trunk prefix, +cc-, grouped, 00cc."""
    digits = "".join(c for c in phone if c.isdigit())
    cc = {"CN": "86", "US": "1", "GB": "44", "DE": "49"}[country]
    nsn = digits[len(cc):] if phone.startswith("+") else digits.lstrip("0")
    mobile = country == "CN" and nsn.startswith("1") and len(nsn) == 11
    trunk = "" if country == "US" or mobile else "0"
    kind = rng.integers(4)
    if kind == 0:
        return trunk + nsn
    if kind == 1:
        return f"+{cc}-{nsn}"
    if kind == 2:
        n = trunk + nsn
        return "-".join(n[i:i + 4] for i in range(0, len(n), 4))
    return f"1 {nsn}" if country == "US" else f"00{cc} {nsn}"


def _duplicate(rng: np.random.Generator, base: dict, country: str, suffix: str) -> dict:
    rec = dict(base)
    n_changes = int(rng.integers(1, 4))
    for change in rng.choice(11, size=n_changes, replace=False):
        if change == 0:
            rec["contact_name"] = _typo(rng, rec["contact_name"])
        elif change == 1:
            rec["company_name"] = _typo(rng, rec["company_name"])
        elif change == 2:  # another way of writing the company suffix
            variants = _CN_SUFFIX_VARIANTS.get(suffix) or _SUFFIX_VARIANTS.get(suffix, ("",))
            alt = str(rng.choice(variants))
            rec["company_name"] = (rec["company_name"][: -len(suffix)] + alt).strip() if suffix else rec["company_name"]
        elif change == 3:  # case / width
            rec["company_name"] = _full_width(rec["company_name"]) if base["script"] == "cn" else rec["company_name"].upper()
            if base["script"] != "cn" and rng.random() < 0.5:
                rec["contact_name"] = rec["contact_name"].upper()
        elif change == 4 and base["script"] == "latin":  # surname first
            rec["contact_name"] = f"{base['last']}, {base['first']}" if rng.random() < 0.5 else f"{base['last']} {base['first']}"
        elif change == 5 and rec["phone"] is not None:
            if rng.random() < 0.2:  # one of the last four digits mistyped
                digits = [k for k, c in enumerate(rec["phone"]) if c.isdigit()][-4:]
                i = digits[int(rng.integers(len(digits)))]
                rec["phone"] = rec["phone"][:i] + str((int(rec["phone"][i]) + int(rng.integers(1, 9))) % 10) + rec["phone"][i + 1:]
            else:
                rec["phone"] = _phone_variant(rng, rec["phone"], country)
        elif change == 6 and rec["email"] is not None:
            rec["email"] = rec["email"].title() if rng.random() < 0.5 else rec["email"].upper()
        elif change == 7:  # a new e-mail or a new phone
            u = rng.random()
            if u < 0.3 and rec["email"] is not None:  # same user name at a free-mail provider
                rec["email"] = rec["email"].split("@")[0] + "@" + str(rng.choice(_EMAIL_DOMAINS_FREE))
            elif u < 0.5:  # an unrelated address
                letters = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=int(rng.integers(5, 9))))
                rec["email"] = f"{letters}{rng.integers(1, 999)}@{rng.choice(_EMAIL_DOMAINS_FREE)}"
            else:
                rec["phone"] = _cn_mobile(rng) if country == "CN" else _latin_phone(rng, country)
        elif change == 8:
            rec[str(rng.choice(["email", "phone"]))] = None
        elif change == 9:
            rec[str(rng.choice(["address", "tax_id"]))] = None
        elif change == 10:
            rec["address"] = _typo(rng, rec["address"]) if rec["address"] else None
    return rec


def _cn_mobile(rng: np.random.Generator) -> str:
    return f"+86 {rng.choice(_CN_MOBILE_PREFIXES)} {rng.integers(0, 10_000):04d} {rng.integers(0, 10_000):04d}"


_BAD_EMAILS = (
    lambda e: e.replace("@", "", 1),  # no @-sign
    lambda e: e.replace("@", "@@", 1),  # two @-signs
    lambda e: e.split("@")[0] + "@" + e.split("@")[1].rsplit(".", 1)[0].replace(".", ""),  # no top-level domain
    lambda e: e.replace("@", " @", 1),  # a space
    lambda e: e.split("@")[0] + "..x@" + e.split("@")[1],  # two dots in a row
)
_BAD_PHONES = (
    lambda p: p[: max(3, len(p) // 3)],  # cut short
    lambda p: p + "0123456789",  # digits added
    lambda p: "000",
    lambda p: "n/a",
)


def make_contacts(
    n_entities: int = 2_000,
    *,
    duplicate_share: float = 0.3,
    max_duplicates: int = 3,
    invalid_email_share: float = 0.03,
    invalid_phone_share: float = 0.03,
    chinese_share: float = 0.4,
    random_state: int | None = 0,
) -> ContactsData:
    """Contact records of ``n_entities`` customers with planted duplicates and invalid contact details.

    Parameters
    ----------
    n_entities : number of distinct customers (the table has more records: their duplicates).
    duplicate_share : share of customers with at least one duplicate record.
    max_duplicates : most extra records one customer can have (drawn uniformly from 1..max).
    invalid_email_share, invalid_phone_share : share of records whose e-mail / phone is made invalid.
    chinese_share : share of companies (and their contacts) in China, written in Chinese.
    random_state : seed; the same arguments give identical frames.
    """
    n = _check_count(n_entities, "n_entities", minimum=1)
    m = _check_count(max_duplicates, "max_duplicates", minimum=1)
    for name, value in (("duplicate_share", duplicate_share), ("invalid_email_share", invalid_email_share),
                        ("invalid_phone_share", invalid_phone_share), ("chinese_share", chinese_share)):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1. Got {value!r} instead.")
    rng = _rng(random_state)
    companies = _company_pool(rng, max(1, int(n * 0.8)), chinese_share)
    rows: list[dict] = []
    used_users: set[str] = set()
    entity_ids: list[int] = []
    originals: list[bool] = []
    start = pd.Timestamp("2019-01-01").value
    span = pd.Timestamp("2025-12-31").value - start
    for e in range(n):
        country, cname, suffix, domain, tax = companies[int(rng.integers(len(companies)))]
        base = (_cn_entity(rng, (cname, suffix, domain), e) if country == "CN"
                else _latin_entity(rng, country, (cname, suffix, domain), e))
        base["tax_id"] = tax
        user, _, host = base["email"].partition("@")
        while user in used_users:  # a user name names one person (john.smith2, john.smith3...)
            user = f"{user.rstrip('0123456789')}{int(rng.integers(2, 10_000))}"
        used_users.add(user)
        base["email"] = f"{user}@{host}"
        base["updated_at"] = start + int(rng.random() * span)
        rows.append(base)
        entity_ids.append(e)
        originals.append(True)
        if rng.random() < duplicate_share:
            for _ in range(int(rng.integers(1, m + 1))):
                dup = _duplicate(rng, base, country, suffix)
                dup["updated_at"] = start + int(rng.random() * span)
                rows.append(dup)
                entity_ids.append(e)
                originals.append(False)
    total = len(rows)
    email_status = np.where([r["email"] is None for r in rows], "missing", "valid").astype(object)
    phone_status = np.where([r["phone"] is None for r in rows], "missing", "valid").astype(object)
    for i in np.flatnonzero((rng.random(total) < invalid_email_share) & (email_status == "valid")):
        rows[i]["email"] = _BAD_EMAILS[int(rng.integers(len(_BAD_EMAILS)))](rows[i]["email"])
        email_status[i] = "invalid"
    for i in np.flatnonzero((rng.random(total) < invalid_phone_share) & (phone_status == "valid")):
        rows[i]["phone"] = _BAD_PHONES[int(rng.integers(len(_BAD_PHONES)))](rows[i]["phone"])
        phone_status[i] = "invalid"
    order = rng.permutation(total)
    width = max(7, len(str(total)))
    record_ids = np.array([f"R{i + 1:0{width}d}" for i in range(total)], dtype=object)
    frame = pd.DataFrame([rows[i] for i in order])
    frame.insert(0, "record_id", record_ids)
    frame["updated_at"] = pd.to_datetime(frame["updated_at"].astype("int64"), unit="ns").dt.floor("s")
    for col in ("company_name", "contact_name", "address"):
        frame[col] = frame[col].map(lambda s: unicodedata.normalize("NFC", s) if isinstance(s, str) else s)
    truth = pd.DataFrame({
        "record_id": record_ids,
        "entity_id": np.array([f"E{entity_ids[i] + 1:0{width}d}" for i in order], dtype=object),
        "is_original": np.asarray(originals)[order],
        "email_status": email_status[order],
        "phone_status": phone_status[order],
    })
    records = frame.loc[:, list(CONTACT_COLUMNS)].reset_index(drop=True)
    for col in CONTACT_COLUMNS[:-1]:
        records[col] = records[col].astype(object).where(records[col].notna(), None)
    return ContactsData(records=records, truth=truth)

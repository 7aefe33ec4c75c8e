"""E-mails, websites and social handles: the fields with a syntax of their own.

OCR misreads them in predictable ways (``©`` for ``@``, a dropped dot read as a space),
so each segment is repaired before matching, and e-mails are checked with
email-validator (syntax only: never a DNS lookup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from ingest.fields.segments import Segment

EMAIL_LABEL = r"(?:e-?mail|email|mail|e)\s*[:.]?"
_AT = r"(?:@|©|®|\(at\)|\[at\])"
EMAIL = re.compile(
    r"(?P<local>(?:[A-Za-z0-9][A-Za-z0-9_-]*[._]\s)?[A-Za-z0-9][A-Za-z0-9._%+'-]*)\s?" + _AT + r"\s?"
    r"(?P<domain>(?:[A-Za-z0-9-]{1,4}\s(?!www|http))?[A-Za-z0-9-]+(?:\s?[.,]\s?[A-Za-z0-9-]+)*\s?[.,]\s?[A-Za-z]{2,}"
    r"|[A-Za-z0-9-]{2,}(?:com|net|org)\b"
    r"|[A-Za-z0-9-]{2,}(?:\.[A-Za-z0-9-]+)*\s(?:com|net|org|edu|gov|int|info|biz)(?![\w.@-]))"
)  # a short sub-domain before a space ("eu jll.com") lost its dot; so did "examplecom"; and the
# dot before a generic TLD read as a space ("jdoe@stanford edu")
# "E: Jane Doe@example.com": after an e-mail label a space inside the local part is a lost dot.
LABELLED_SPLIT_LOCAL = re.compile(
    r"\b" + EMAIL_LABEL + r"\s+([A-Za-z][A-Za-z0-9_-]*)\s([A-Za-z0-9._-]+\s?" + _AT + ")", re.I
)

GLUED_LABEL = re.compile(r"(?:e-?mail|mail|courriel)[.:_-]", re.I)  # a separator: 'mailroom@' stays
LABELLED_NO_AT = re.compile(
    r"\b(?:e-?mail|mail|courriel)\s*[:.]?\s*"
    r"(?P<token>[A-Za-z0-9][A-Za-z0-9._-]{3,}\.[A-Za-z]{2,6})\b(?![@.])",
    re.I,
)
AT_LOOKALIKES = set("eaoQ©®0(")
GENERIC_TLDS = {
    "com", "net", "org", "edu", "gov", "info", "biz", "io", "co", "ai", "app", "dev", "tech",
    "online", "site", "store", "agency", "consulting", "group", "global", "world", "media", "design",
    "studio", "solutions", "services", "systems", "digital", "cloud", "example", "travel", "hotel",
    "law", "legal", "health", "care", "finance", "capital", "partners", "ventures", "energy", "int", "eu",
}  # fmt: skip
COUNTRY_TLDS = {
    "ac": None, "ae": "AE", "ar": "AR", "at": "AT", "au": "AU", "be": "BE", "br": "BR", "ca": "CA",
    "ch": "CH", "cl": "CL", "cn": "CN", "cz": "CZ", "de": "DE", "dk": "DK", "eg": "EG", "es": "ES",
    "fi": "FI", "fr": "FR", "gr": "GR", "hk": "HK", "hu": "HU", "id": "ID", "ie": "IE", "il": "IL",
    "in": "IN", "it": "IT", "jp": "JP", "ke": "KE", "kr": "KR", "lu": "LU", "ma": "MA", "mx": "MX",
    "my": "MY", "ng": "NG", "nl": "NL", "no": "NO", "nz": "NZ", "pe": "PE", "ph": "PH", "pk": "PK",
    "pl": "PL", "pt": "PT", "qa": "QA", "ro": "RO", "ru": "RU", "sa": "SA", "se": "SE", "sg": "SG",
    "th": "TH", "tn": "TN", "tr": "TR", "tw": "TW", "ua": "UA", "uk": "GB", "us": "US", "vn": "VN",
    "za": "ZA", "gh": "GH", "tz": "TZ", "ug": "UG", "rw": "RW", "et": "ET", "lk": "LK", "bd": "BD",
}  # fmt: skip
KNOWN_TLDS = GENERIC_TLDS | set(COUNTRY_TLDS)

WEBSITE = re.compile(
    r"(?<![@\w.-])(?P<url>(?:(?:https?|hltp|http)\s?:\s?/\s?/\s?)?(?:www\d?\s?[.,]\s?)?"
    r"[A-Za-z0-9][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.(?P<tld>[A-Za-z]{2,12})\b"
    r"(?:/[^\s]*)?)",
    re.I,
)
SOCIAL_HOSTS = {
    "linkedin.com": "linkedin",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "instagram.com": "instagram",
    "github.com": "github",
    "youtube.com": "youtube",
    "tiktok.com": "tiktok",
    "xing.com": "xing",
}
SOCIAL_HANDLE = re.compile(
    r"\b(?P<network>twitter|instagram|insta|ig|x|skype|telegram|github|linkedin|wechat|line)\s*[:\-]?\s*"
    r"(?P<handle>@?[A-Za-z0-9_.\-/]{2,40})",
    re.I,
)


@dataclass
class Match:
    """A value found inside a segment: the span it came from and how it was found."""

    segment: Segment
    start: int
    end: int
    value: str
    method: str
    kind: str | None = None  # phone type or social network
    extension: str | None = None
    valid: bool = True  # phones: phonenumbers accepts it for its region

    @property
    def raw(self) -> str:
        return self.segment.text[self.start : self.end]


def _clean_domain(domain: str) -> str:
    domain = re.sub(r"\s*[.,]\s*|\s", ".", domain.strip()).strip(".").lower()
    if "." not in domain:
        domain = re.sub(r"(com|net|org)$", r".\1", domain)
    return domain


def find_emails(segment: Segment) -> list[Match]:
    text = segment.text
    found: list[Match] = []
    for m in EMAIL.finditer(text):
        local, domain = re.sub(r"\s", "", m.group("local")), _clean_domain(m.group("domain"))
        method = "regex"
        if m.group(0).count("@") == 0:
            method = "regex_repaired_at"
        elif " " in m.group(0):
            method = "regex_repaired_spaces"
        start = m.start()
        split = LABELLED_SPLIT_LOCAL.search(text[: m.end()])
        if split and split.end() >= m.start("local") and split.start(1) < m.start():
            local = f"{split.group(1)}.{local}"
            start = split.start(1)
            method = "regex_repaired_local"
        left = re.search(r"([A-Za-z0-9][A-Za-z0-9_-]*[._-])$", segment.left_text)
        if m.start() == 0 and left:  # "astrid.      vansnick@..." read as two segments
            local, method = left.group(1) + local, "regex_joined_left"
        local = local.strip("._-'")
        glued = GLUED_LABEL.match(local)
        if glued and len(local) - glued.end() >= 2:  # "E-Mail.jane@..." : the label is not the address
            start += glued.end() if m.start() == start else 0
            local, method = local[glued.end() :], method + "_label_cut"
        tld = domain.rsplit(".", 1)[-1]
        if tld not in KNOWN_TLDS and len(tld) > 3:
            continue
        address = f"{local}@{domain}"
        try:
            checked = validate_email(address, check_deliverability=False)
        except EmailNotValidError:
            continue
        found.append(Match(segment, start, m.end(), checked.normalized, method))
    if not found:
        found += _labelled_without_at(segment)
    return found


def _labelled_without_at(segment: Segment) -> list[Match]:
    """'E-Mail clowery41everizon.net': after an e-mail label, a host whose '@' was misread.

    The '@' is taken to be the one character (e, a, o, Q, ©...) that leaves a host name
    without digits (hosts rarely have them, local parts often do), the longest such.
    """
    m = LABELLED_NO_AT.search(segment.text)
    if not m:
        return []
    token = m.group("token")
    options = []
    for i, ch in enumerate(token):
        if ch not in AT_LOOKALIKES or i < 2:
            continue
        local, domain = token[:i], token[i + 1 :].lower()
        label = domain.split(".")[0]
        tld = domain.rsplit(".", 1)[-1]
        if "." not in domain or tld not in KNOWN_TLDS or len(label) < 3 or re.search(r"\d", label):
            continue
        try:
            checked = validate_email(f"{local}@{domain}", check_deliverability=False)
        except EmailNotValidError:
            continue
        options.append((len(label), checked.normalized))
    if not options:
        return []
    value = max(options)[1]
    return [Match(segment, m.start("token"), m.end("token"), value, "regex_label_repaired_at")]


def social_network(url: str) -> str | None:
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url.lower()).split("/")[0]
    return SOCIAL_HOSTS.get(host)


def find_websites(segment: Segment, taken: list[tuple[int, int]]) -> list[Match]:
    """Web addresses not inside an e-mail; social-network URLs come back with ``kind`` set."""
    text = segment.text
    found: list[Match] = []
    for m in WEBSITE.finditer(text):
        if any(m.start() < end and start < m.end() for start, end in taken):
            continue
        end = m.end()
        spaced = SPACED_TLD.match(text, end)
        tld = m.group("tld").lower()
        if spaced and _joins_tld(tld, spaced.group("tld").lower()):  # "www.example.co. uk"
            end, tld = spaced.end(), spaced.group("tld").lower()
        url = re.sub(r"\s", "", text[m.start("url") : end]).rstrip(".,;:)")
        url = re.sub(r"^hltp", "http", url, flags=re.I)
        url = re.sub(r"^(www\d?),", r"\1.", url, flags=re.I)
        has_prefix = bool(re.match(r"(?:https?://|www\d?\.)", url, re.I))
        host = re.sub(r"^(?:https?://)?", "", url, flags=re.I).split("/")[0]
        if not has_prefix:
            if tld not in KNOWN_TLDS:
                continue
            # "Co.Ltd", "Ph.D", "St.Louis": a bare host needs a lowercase, multi-letter name
            if host != host.lower() and tld not in GENERIC_TLDS:
                continue
            if len(host.split(".")[0]) < 2:
                continue
        network = social_network(url)
        found.append(Match(segment, m.start(), end, url, "regex" if end == m.end() else "regex_spaced_tld",
                           kind=network))  # fmt: skip
    return found


SPACED_TLD = re.compile(r"\s?\.\s?(?P<tld>[A-Za-z]{2,3})\b(?![.@-]\w)(?:/[^\s]*)?")
SECOND_LEVEL_LABELS = {"co", "com", "ac", "ne", "or", "org", "net", "gov", "edu", "go", "gr", "ed", "lg"}


def _joins_tld(tld: str, following: str) -> bool:
    """A country TLD after a second-level label ('co' + 'uk') is the rest of the host."""
    return following in COUNTRY_TLDS and (tld in SECOND_LEVEL_LABELS or tld not in KNOWN_TLDS)


def find_social_handles(segment: Segment) -> list[Match]:
    found = []
    for m in SOCIAL_HANDLE.finditer(segment.text):
        handle = m.group("handle")
        network = m.group("network").lower()
        if network in {"x", "ig", "line"} and not handle.startswith("@"):
            continue
        if "@" in handle[1:] or ("." in handle and network not in {"skype", "linkedin"}):
            continue
        network = {"insta": "instagram", "ig": "instagram", "x": "twitter"}.get(network, network)
        found.append(Match(segment, m.start(), m.end(), handle, "label", kind=network))
    return found


def domain_of(value: str) -> str:
    host = value.split("@")[-1]
    host = re.sub(r"^(?:https?://)?(?:www\d?\.)?", "", host.lower())
    return host.split("/")[0]


def region_from_domain(domain: str) -> str | None:
    return COUNTRY_TLDS.get(domain.rsplit(".", 1)[-1])


def repair_local_part(email: str, names: list[str], other_text: str) -> str | None:
    """Fix one misread letter in an e-mail's local part using the name printed on the card.

    'clowerv41' beside 'Carla Lowery' becomes 'clowery41'. The e-mail wins when its
    spelling appears elsewhere on the card (a Skype handle, a website). None: nothing to fix.
    """
    local, _, domain = email.partition("@")
    low = local.lower()
    if low in other_text.lower():
        return None
    for name in names:
        for token in re.findall(r"[a-z]{4,}", name.lower()):
            if token in low:
                continue
            for i in range(len(low) - len(token) + 1):
                window = low[i : i + len(token)]
                if sum(a != b for a, b in zip(window, token, strict=True)) == 1:
                    fixed = local[:i] + token + local[i + len(token) :]
                    return f"{fixed}@{domain}"
    return None


REGION_TLD = {region: tld for tld, region in COUNTRY_TLDS.items() if region}


def repair_country_tld(value: str, region: str) -> str | None:
    """'example.co.jo' on a Japanese card is 'example.co.jp' misread: fix a country TLD one slip away.

    Only called when the card itself names its country (address, +code), never on the default.
    """
    expected = REGION_TLD.get(region)
    m = re.search(r"\.([a-z]{2,3})(/.*)?$", value)
    if not expected or not m or m.group(1) == expected or m.group(1) in GENERIC_TLDS:
        return None
    tld = m.group(1)
    one_slip = (
        len(tld) == len(expected) and sum(a != b for a, b in zip(tld, expected, strict=True)) == 1
    ) or (len(tld) == len(expected) + 1 and expected in tld)
    if not one_slip:
        return None
    return value[: m.start(1)] + expected + (m.group(2) or "")

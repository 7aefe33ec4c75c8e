"""Names, companies and addresses printed in Japanese or Chinese, kept in their own script.

Bilingual cards print the person and the company twice: in Latin letters and in kanji /
hanzi (and kana). The Latin copies are found by the other rules; the native copies are
kept as further values of the same fields, marked with their ``script``, so that a user
sees the card as printed. They are recognised by what they contain, not by vocabulary
lists of names: company markers (株式会社, 有限公司...), address markers (都道府県, 市区町村,
丁目, 省, 路, 号...) with digits, or a short line of CJK characters in a large font.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.fields.segments import Segment

CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
COMPANY_MARKERS = re.compile(
    r"株式会社|有限会社|合同会社|（株）|\(株\)|有限公司|股份|集团|集團|公司|大学|大學|研究所|事務所|銀行|银行|協会|协会|法人"
)
ADDRESS_MARKERS = re.compile(r"[都道府県市区町村郡省路街号號楼樓室]|丁目|番地|大厦|大廈|ビル")
NAME_CHARS = (2, 5)  # CJK personal names: family name + given name, 2 to 5 characters


@dataclass
class NativeValue:
    kind: str  # name | company | address
    segment: Segment
    script: str


def compact_cjk(text: str) -> str:
    """Drop the spaces OCR puts between CJK characters ('空 野 株 式 会 社' -> '空野株式会社')."""
    return re.sub(r"(?<=[\u3040-\u30ff\u3400-\u9fff])\s+(?=[\u3040-\u30ff\u3400-\u9fff])", "", text.strip())


def script_of(text: str) -> str:
    """The main non-Latin script of a text: Han, Hiragana, Katakana or Hangul (Unicode names)."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha() or "LATIN" in unicodedata.name(ch, ""):
            continue
        name = unicodedata.name(ch, "")
        script = next((s for s in ("HIRAGANA", "KATAKANA", "HANGUL", "CJK") if s in name), "OTHER")
        counts[script] = counts.get(script, 0) + 1
    if not counts:
        return "Latin"
    top = max(counts, key=lambda k: counts[k])
    if top in ("HIRAGANA", "KATAKANA") or ("CJK" in counts and {"HIRAGANA", "KATAKANA"} & counts.keys()):
        return "Jpan"  # ISO 15924: Han with kana
    return {"CJK": "Hani", "HANGUL": "Hang"}.get(top, "Zyyy")


def cjk_share(text: str) -> float:
    letters = [c for c in text if not c.isspace()]
    return sum(bool(CJK_CHAR.match(c)) for c in letters) / max(len(letters), 1)


def find_native(segments: list[Segment]) -> list[NativeValue]:
    """Native-script company, name and address lines of a card (at most one name and company)."""
    native = [s for s in segments if cjk_share(s.text) >= 0.5]
    if not native:
        return []
    heights = sorted(s.height for s in segments)
    median = heights[len(heights) // 2]
    found: list[NativeValue] = []
    for s in native:
        compact = re.sub(r"\s", "", s.text)
        if COMPANY_MARKERS.search(compact):
            kind = "company"
        elif ADDRESS_MARKERS.search(compact) and re.search(r"\d", compact):
            kind = "address"
        elif NAME_CHARS[0] <= len(compact) <= NAME_CHARS[1] and not re.search(r"\d", compact):
            kind = "name" if s.height >= median else ""
        else:
            kind = ""
        if kind:
            found.append(NativeValue(kind, s, script_of(s.text)))
    names = sorted((v for v in found if v.kind == "name"), key=lambda v: -v.segment.height)
    companies = [v for v in found if v.kind == "company"]
    return [*names[:1], *companies[:1], *[v for v in found if v.kind == "address"]]

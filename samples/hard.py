"""Harder synthetic cards: the layouts and printing habits that fooled the field rules.

Each card is fictional (invented people and brands, ``.example`` domains, drama-range or
unassigned-looking numbers) and exercises one class of difficulty named in its ``notes``:
a logo wordmark as the only company line, two side-by-side columns, labels glued to their
values, a host printed with a space after a dot, bilingual Latin + Japanese / Chinese
(Noto CJK), low contrast, photos at an angle, and Latin letters English data cannot read
(ł, ğ/ş/ı, ř, å, ư/ơ/đ). Labels follow the shared format; CJK values go in ``non_latin``.

Drawn with its own seeded RNG, after the base set, so the base cards stay byte-identical.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SANS = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SANS_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
CJK_INDEX = {"ja": 0, "zh": 2}  # faces inside the .ttc: JP, SC


@dataclass
class HardCard:
    """Content, printed lines and label of one hard card."""

    kind: str
    country: str
    name: str
    title: str
    company: str
    email: str
    phones: list[tuple[str, str, str]]  # printed label, number, type
    website: str = ""
    website_printed: str = ""
    address: list[str] = field(default_factory=list)
    non_latin: list[str] = field(default_factory=list)
    notes: str = ""


PEOPLE = {
    "PL": ("Małgorzata Wróblewska", "Kierownik Projektu", "Łąkowa", "Wrocław", "50-%##", "+48 71 %## ## ##"),
    "TR": ("Ayşegül Yıldırım", "Satış Müdürü", "Çiçek Sokak", "İzmir", "35%##", "+90 232 %## ## ##"),
    "CZ": ("Jiří Řezníček", "Obchodní ředitel", "Dlouhá", "Brno", "602 00", "+420 5%# ### ###"),
    "SE": ("Åsa Ångström", "Projektledare", "Strandvägen", "Västerås", "72% %#", "+46 21 %## ## ##"),
    "VN": ("Nguyễn Thị Hương", "Giám đốc", "Đường Lê Lợi", "Đà Nẵng", "55%###", "+84 236 %## ####"),
}
US_PHONE = "(415) 555-01##"
BRANDS = ("Vantor", "Kelsa", "Orbane", "Tesmir", "Quillon", "Brevik", "Nordal", "Zentra", "Halvo", "Marisk")


def fill(rng: random.Random, template: str) -> str:
    return "".join(
        str(rng.randrange(10)) if c == "#" else str(rng.randrange(1, 10)) if c == "%" else c for c in template
    )


def slug(text: str) -> str:
    import unicodedata

    text = text.replace("ł", "l").replace("Ł", "L").replace("đ", "d").replace("Đ", "D").replace("ı", "i")
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if c.isascii() and c.isalnum())


def make_cards(rng: random.Random) -> list[HardCard]:
    cards: list[HardCard] = []
    brands = rng.sample(BRANDS, len(BRANDS))
    for i, (country, (name, title, street, city, pc, phone)) in enumerate(PEOPLE.items()):
        brand = brands[i]
        first, last = name.split()[0], name.split()[-1]
        domain = f"{slug(brand)}.example"
        cards.append(
            HardCard(
                "diacritics", country, name, title, f"{brand} Group", f"{slug(first)}.{slug(last)}@{domain}",
                [("Tel.", fill(rng, phone), "work")], f"www.{domain}", f"www.{domain}",
                [f"{street} {rng.randrange(2, 90)}", f"{fill(rng, pc)} {city}"],
                notes="Latin letters beyond English",
            )
        )  # fmt: skip
    us = [("Dana Whitcombe", "Operations Director"), ("Marcus Oyelaran", "Senior Analyst"),
          ("Priya Castellano", "Head of Design"), ("Tobias Renwick", "Account Manager"),
          ("Helena Sandoval", "Chief Financial Officer")]  # fmt: skip
    kinds = ("wordmark", "two_column", "glued_labels", "spaced_domain", "low_contrast")
    for j, (kind, (name, title)) in enumerate(zip(kinds, us, strict=True)):
        brand = brands[5 + j]
        first, last = name.split()
        domain = f"{slug(brand)}.co.uk" if kind == "spaced_domain" else f"{slug(brand)}.example"
        site = f"www.{domain}"
        printed = site.replace(".co.uk", ".co. uk") if kind == "spaced_domain" else site
        cards.append(
            HardCard(
                kind, "GB" if kind == "spaced_domain" else "US", name, title,
                brand.upper() if kind == "wordmark" else f"{brand} Partners LLC",
                f"{slug(first)[0]}{slug(last)}@{domain}",
                [("Tel", fill(rng, US_PHONE), "work"), ("Mobile", fill(rng, US_PHONE), "mobile")],
                site, printed, [f"{rng.randrange(100, 990)} Harbor View Blvd", "San Francisco, CA 94107"],
                notes=kind.replace("_", " "),
            )
        )  # fmt: skip
    for lang, (name, native, company, native_company) in {
        "ja": ("Kenta Morioka", "森岡 健太", "Sorano Systems Inc.", "空野システム株式会社"),
        "zh": ("Li Wenjun", "李文俊", "Huaxin Robotics Co., Ltd.", "华信机器人有限公司"),
    }.items():
        domain = f"{slug(company.split()[0])}.example"
        phone = fill(rng, "+81 3 %### ####") if lang == "ja" else fill(rng, "+86 21 %### ####")
        card = HardCard(
            "bilingual_" + lang, "JP" if lang == "ja" else "CN", name, "Sales Manager", company,
            f"{slug(name.split()[0])}.{slug(name.split()[-1])}@{domain}", [("Tel", phone, "work")],
            f"www.{domain}", f"www.{domain}", [], [native, native_company], notes=f"bilingual Latin + {lang}",
        )  # fmt: skip
        cards.append(card)
    return cards


def _font(path: Path, size: int, index: int = 0) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size, index=index)


def render(card: HardCard, rng: random.Random) -> Image.Image:
    """Draw one card face (1004 x 650)."""
    w, h = 1004, 650
    bg, ink, accent = (255, 255, 255), (25, 25, 25), (20, 60, 120)
    if card.kind == "low_contrast":
        bg, ink, accent = (236, 236, 232), (150, 150, 150), (140, 150, 165)
    img = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(img)
    body, big = _font(SANS, 30), _font(SANS_BOLD, 56)
    tel = [f"{label} {number}" for label, number, _ in card.phones]
    mail = f"E-Mail.{card.email}" if card.kind == "glued_labels" else f"E-mail: {card.email}"
    if card.kind == "glued_labels":
        tel = [f"{label}.{number}" for label, number, _ in card.phones]
    contacts = [*tel, mail, card.website_printed]
    if card.kind == "two_column":
        d.text((60, 90), card.name, font=big, fill=ink)
        d.text((60, 170), card.title, font=body, fill=ink)
        d.text((60, 230), card.company, font=_font(SANS_BOLD, 34), fill=accent)
        for k, text in enumerate([*contacts, *card.address]):
            d.text((560, 300 + 42 * k), text, font=_font(SANS, 26), fill=ink)
        return img
    y = 60
    if card.kind == "wordmark":
        d.text((w // 2, 110), card.company, font=_font(SANS_BOLD, 96), fill=accent, anchor="mm")
        y = 200
    if card.kind.startswith("bilingual"):
        cjk = _font(CJK_FONT, 44, CJK_INDEX[card.kind.split("_")[1]])
        d.text((60, y), card.non_latin[1], font=cjk, fill=accent)
        d.text((60, y + 70), card.non_latin[0], font=_font(CJK_FONT, 58, CJK_INDEX[card.kind.split("_")[1]]),
               fill=ink)  # fmt: skip
        y += 160
    d.text((60, y), card.name, font=big, fill=ink)
    d.text((60, y + 75), card.title, font=body, fill=ink)
    y += 125
    if card.kind != "wordmark":
        d.text((60, y), card.company, font=_font(SANS_BOLD, 34), fill=accent)
        y += 60
    for text in [*contacts, *card.address]:
        if y > h - 40:
            break
        d.text((60, y), text, font=_font(SANS, 27), fill=ink)
        y += 38
    return img


def label(card: HardCard, quality: str, notes: str) -> dict:
    return {
        "names": [card.name],
        "job_titles": [card.title],
        "departments": [],
        "companies": [card.company],
        "emails": [card.email],
        "websites": [card.website] if card.website else [],
        "phones": [{"number": n, "type": t} for _, n, t in card.phones],
        "addresses": [", ".join(card.address)] if card.address else [],
        "social": [],
        "country": card.country,
        "non_latin": card.non_latin,
        "quality": quality,
        "notes": notes,
        "unlabelled": [],
    }


def generate(out: Path, seed: int, photograph) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Write hard_NN.png (and a few photos at an angle) into ``out``; returns their labels."""
    rng = random.Random(seed + 1000)
    nrng = np.random.default_rng(seed + 1000)
    labels: dict[str, dict] = {}
    for n, card in enumerate(make_cards(rng), start=1):
        img = render(card, rng)
        notes = f"synthetic hard card: {card.notes}"
        if n % 4 == 0:  # every fourth: a photo at an angle
            photo = photograph(img, nrng, 0)
            fname = f"hard_{n:02d}.jpg"
            photo.save(out / fname, quality=85, optimize=True)
            labels[fname] = label(card, "photo", notes + "; photo")
        else:
            fname = f"hard_{n:02d}.png"
            img.save(out / fname, optimize=True)
            labels[fname] = label(card, "scan", notes)
    return labels

"""Seeded generator of synthetic business-card images with exact ground-truth labels.

Why this exists: real business cards carry personal data of third parties, so they cannot be committed
or shared freely, yet the OCR + field-extraction pipeline needs a public, reproducible test set. This
script renders ~24 fictional cards (invented people and companies, ``.example`` domains, phone numbers
from fictional or "drama" ranges such as US 555-01xx, UK 020 7946 0xxx, AU 02 5550 xxxx) that exercise
the same code paths as real ones: several layouts, DejaVu fonts and colour schemes, twelve Latin-script
countries with their phone/address conventions, flat scans, low-resolution skewed scans and photo-like
renderings (perspective, shadow, uneven light, blur, noise, JPEG, 90/180/270° turns).

Every string drawn comes from the same ``Card`` object that produces its label, so ``labels.json`` is
exact by construction. Field prefixes ("Tel:", "E:", "X:") are not part of the values; other printed
text (logo initials, taglines) is named in ``notes``; ``unlabelled`` (fields not scored) stays empty.
The output is byte-identical for a given seed and the same Pillow/NumPy/OpenCV/FreeType versions:
nothing depends on time or hash order.

Usage: python samples/generate.py [--out samples] [--seed 7]
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
Part = tuple[str, RGB, int]  # text, colour, font style
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
REG, BOLD, ITAL, BOLDITAL = range(4)
BODY = 31  # nominal body font size in px; blocks shrink to fit, lines below 18 px are reported
FONT_FILES = {
    "sans": ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique"),
    "serif": ("DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-Italic", "DejaVuSerif-BoldItalic"),
    "mono": ("DejaVuSansMono", "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique", "DejaVuSansMono-BoldOblique"),
    "cond": (
        "DejaVuSansCondensed",
        "DejaVuSansCondensed-Bold",
        "DejaVuSansCondensed-Oblique",
        "DejaVuSansCondensed-BoldOblique",
    ),
    "light": ("DejaVuSans-ExtraLight",) * 4,
}
# scheme: background, name, body text, accent, ink on accent
SCHEMES: dict[str, tuple[RGB, RGB, RGB, RGB, RGB]] = {
    "classic": ((255, 255, 255), (20, 20, 20), (35, 35, 35), (25, 55, 110), (255, 255, 255)),
    "navy": ((250, 250, 247), (18, 38, 86), (40, 44, 52), (18, 38, 86), (255, 255, 255)),
    "burgundy": ((253, 250, 244), (128, 24, 40), (30, 30, 30), (128, 24, 40), (255, 255, 255)),
    "green": ((244, 248, 243), (25, 70, 45), (40, 45, 40), (46, 125, 80), (255, 255, 255)),
    "cream": ((248, 243, 230), (60, 40, 20), (50, 40, 30), (150, 100, 40), (255, 250, 240)),
    "teal": ((255, 255, 255), (10, 90, 100), (30, 40, 45), (10, 110, 120), (255, 255, 255)),
    "grey": ((255, 255, 255), (60, 60, 60), (105, 105, 105), (150, 150, 150), (255, 255, 255)),
    "dark": ((30, 34, 42), (245, 245, 245), (220, 222, 228), (232, 184, 72), (30, 34, 42)),
    "petrol": ((12, 58, 74), (255, 255, 255), (230, 240, 242), (255, 205, 120), (12, 58, 74)),
}
LABEL_SETS = {  # (work, mobile, fax); "local" uses the country's own words, "none" prints no labels
    "word": "Tel|Mobile|Fax",
    "letter": "T|M|F",
    "phone": "Phone|Cell|Fax",
    "office": "Office|Mobile|Fax",
    "direct": "Direct|Cell|F",
    "main": "Main|C|Fax",
}
BRANDS = (
    "Kestrelbay",
    "Alderwick",
    "Quillon",
    "Brightfen",
    "Marrowgate",
    "Tessaly",
    "Oakhollow",
    "Vantrell",
    "Corvane",
    "Lumisette",
    "Haldrun",
    "Veltrano",
    "Norrvik",
    "Brisemont",
    "Zanderholt",
    "Pellwyn",
    "Caskadia",
    "Orveline",
    "Drumlow",
    "Sablenet",
    "Fenwright",
    "Ilvora",
    "Thistlecombe",
    "Moravent",
    "Quenby",
    "Galdris",
)
TAGLINES = (
    "Measured twice, built once.",
    "Engineering since 1987",
    "Clear answers to hard questions",
    "Quality without compromise",
    "Your partner in precision",
)
EMAIL_PATTERNS = ("{first}.{last}", "{f}.{last}", "{f}{last}", "{first}", "{f}{l}", "{last}")
EN_TITLES = (
    "Senior Account Manager|Head of Operations|Chief Technology Officer|Product Designer|"
    "Director of Sales|Principal Engineer|Marketing Coordinator|Co-founder|Managing Director|"
    "Partner|Associate"
)
EN_DEPTS = "Research & Development|Customer Success|Clinical Operations|Corporate Finance|Supply Chain"


@dataclass(frozen=True)
class Country:
    """Per-country vocabulary; '|' separates alternatives, ';' separates printed address lines.

    ``cities`` entries are ``city,region,postcode,area code,subscriber``; in templates '#' is a digit,
    '%' a non-zero digit and '@' a capital letter. ``work``/``mobile`` formats are index-aligned.
    """

    female: str
    male: str
    last: str
    titles: str  # "female form|male form" pairs are joined with '/'
    depts: str
    trades: str
    suffixes: str
    cities: str
    streets: str
    addresses: str
    work: str
    mobile: str
    local: str = "Tel|Mobile|Fax"


COUNTRIES: dict[str, Country] = {
    "US": Country(
        "Emily|Sarah|Megan|Rachel|Laura|Olivia",
        "Michael|David|Jason|Ryan|Kevin|Daniel",
        "Whitaker|Donnelly|Harrington|Caldwell|Brennan|Prescott|Holloway|Mercer",
        EN_TITLES,
        EN_DEPTS,
        "Analytics|Robotics|Design Studio|Health Partners|Logistics|Software",
        "Inc.|LLC|Corp.",
        "San Francisco,CA,941##,415,|Boston,MA,021##,617,|Chicago,IL,606##,312,|Austin,TX,787##,512,",
        "Harbor View Blvd|Market Street|Elm Avenue|Commerce Drive|Lakeshore Road",
        "%### {street}, Suite %#0;{city}, {region} {pc}|%## {street};Floor %;{city}, {region} {pc}",
        "({ac}) 555-01##|+1 {ac} 555 01##|{ac}.555.01##|{ac}-555-01##",
        "({ac}) 555-01##|+1 {ac} 555 01##|{ac}.555.01##|{ac}-555-01##",
    ),
    "CA": Country(
        "Geneviève|Madison|Avery|Chantal|Brooke",
        "Étienne|Connor|Marc-André|Tyler|Owen",
        "Tremblay|Gagnon|MacDonald|Bouchard|Campbell|Leblanc",
        EN_TITLES,
        EN_DEPTS,
        "Legal|Forestry|Software|Advisory",
        "Inc.|Ltd.|LLP",
        "Toronto,ON,M5V %@%,416,|Vancouver,BC,V6B %@%,604,|Montréal,QC,H3B %@%,514,|Calgary,AB,T2P %@%,403,",
        "Front Street West|Bay Street|Rue Sherbrooke Ouest|Granville Street",
        "%## {street}, Suite %00;{city}, {region} {pc}|%### {street};{city} {region} {pc};Canada",
        "({ac}) 555-01##|{ac}-555-01##|+1 {ac} 555-01##",
        "({ac}) 555-01##|{ac}-555-01##|+1 {ac} 555-01##",
    ),
    "GB": Country(
        "Charlotte|Harriet|Eleanor|Sophie|Imogen|Lucy",
        "Oliver|James|Alistair|Thomas|Rupert|Callum",
        "Ashworth|Pemberton|Fairclough|Hargreaves|Thornton|Blackwood|Kershaw",
        EN_TITLES,
        EN_DEPTS,
        "Consulting|Engineering|Surveyors|Textiles|Data Services",
        "Ltd|Ltd.|plc|LLP",
        "London,,EC2A %@@,20,7946 0###|Manchester,,M1 %@@,161,496 0###|Bristol,,BS1 %@@,117,496 0###|"
        "Leeds,,LS1 %@@,113,496 0###|Edinburgh,,EH1 %@@,131,496 0###",
        "Kingsway|Wharf Road|Chapel Street|Victoria Terrace|Mill Lane",
        "%# {street};{city} {pc}|Unit %, {street};{city};{pc}|%# {street};{city} {pc};United Kingdom",
        "0{ac} {sub}|+44 {ac} {sub}|+44 (0){ac} {sub}",
        "07700 900###|+44 7700 900###|+44 (0)7700 900###",
    ),
    "DE": Country(
        "Sabine|Ulrike|Jana|Mareike|Katrin",
        "Jürgen|Matthias|Florian|Stefan|Björn|Tobias",
        "Hoffmann|Brückner|Weißenberg|Scholz|Köhler|Lindemann|Vogt",
        "Leiterin Vertrieb/Leiter Vertrieb|Geschäftsführerin/Geschäftsführer|"
        "Projektingenieurin/Projektingenieur|Prokuristin/Prokurist|"
        "Entwicklungsleiterin/Entwicklungsleiter|Head of Business Development",
        "Forschung & Entwicklung|Qualitätssicherung|Einkauf und Logistik|Vertrieb Süd",
        "Messtechnik|Maschinenbau|Logistik|Software|Medizintechnik",
        "GmbH|AG|GmbH & Co. KG",
        "Berlin,,101##,30,23125 ###|Hamburg,,204##,40,66969 ###|München,,803##,89,99998 ###|"
        "Köln,,506##,221,4710 ###|Frankfurt am Main,,603##,69,90009 ###",
        "Lindenallee|Hafenstraße|Am Kupfergraben|Schillerstraße|Industriestraße",
        "{street} %#;{pc} {city}|{street} %#;{pc} {city};Germany",
        "+49 {ac} {sub}|0{ac} {sub}|+49 (0){ac} {sub}|0{ac} / {sub}",
        "+49 171 %### ###|0171 %### ###|+49 (0)171 %### ###|0171 / %### ###",
        "Tel.|Mobil|Fax",
    ),
    "FR": Country(
        "Hélène|Camille|Élodie|Margaux|Anaïs",
        "Julien|François|Mathieu|Étienne|Thibault",
        "Lefèvre|Moreau|Giraud|Delacroix|Rousseau|Chevalier|Faure",
        "Directrice commerciale/Directeur commercial|Chargée d'affaires/Chargé d'affaires|"
        "Ingénieure d'études/Ingénieur d'études|Responsable des achats|Cheffe de projet/Chef de projet",
        "Service client|Direction technique|Département Logistique",
        "Conseil|Ingénierie|Distribution|Emballages",
        "S.A.R.L.|SAS|S.A.",
        "Paris,,7500%,1,99 00 ## ##|Lyon,,6900%,4,65 71 ## ##|Bordeaux,,330%#,5,36 49 ## ##|"
        "Lille,,590%#,3,53 01 ## ##|Nantes,,440%#,2,61 91 ## ##",
        "rue des Tanneurs|avenue Jean Jaurès|boulevard Voltaire|quai des Chartrons|rue de la République",
        "%#, {street};{pc} {city}|%# {street};{pc} {city};France",
        "+33 {ac} {sub}|0{ac} {sub}|+33 (0){ac} {sub}",
        "+33 6 39 98 ## ##|06 39 98 ## ##|+33 (0)6 39 98 ## ##",
        "Tél.|Portable|Fax",
    ),
    "ES": Country(
        "Lucía|María José|Carmen|Elena|Inés",
        "Javier|José Luis|Alejandro|Íñigo|Sergio",
        "García Núñez|Martínez|Ortega|Fernández Ruiz|Iglesias|Castaño",
        "Directora de Proyectos/Director de Proyectos|Jefa de Ventas/Jefe de Ventas|Responsable de Compras|"
        "Consultora sénior/Consultor sénior",
        "Departamento Comercial|Área de Innovación|Recursos Humanos",
        "Consultores|Arquitectura|Ingeniería|Alimentación",
        "S.L.|S.A.",
        "Madrid,Madrid,280##,91,%## ## ##|Barcelona,Barcelona,080##,93,%## ## ##|"
        "Valencia,Valencia,460##,96,%## ## ##|Bilbao,Bizkaia,480##,94,%## ## ##",
        "Calle del Olmo|Avenida de la Constitución|Calle Mayor|Ronda de Poniente",
        "{street}, %#;{pc} {city}|{street} %#, planta %;{pc} {city} ({region});España",
        "+34 {ac} {sub}|{ac} {sub}",
        "+34 6%# ### ###|6%# ### ###",
        "Tel.|Móvil|Fax",
    ),
    "IT": Country(
        "Giulia|Francesca|Chiara|Alessandra|Federica",
        "Marco|Lorenzo|Davide|Niccolò|Matteo",
        "Bianchi|Ferraresi|Colombo|Marchetti|Galli|Rinaldi",
        "Responsabile Acquisti|Direttrice Tecnica/Direttore Tecnico|"
        "Amministratrice Delegata/Amministratore Delegato|Ingegnere di Progetto|Consulente Commerciale",
        "Ufficio Tecnico|Divisione Logistica|Area Commerciale",
        "Meccanica|Tessuti|Impianti|Ottica",
        "S.p.A.|S.r.l.",
        "Milano,MI,201##,02,%### ####|Roma,RM,001##,06,%### ####|"
        "Torino,TO,101##,011,%## ####|Bologna,BO,401##,051,%## ####|Firenze,FI,501##,055,%## ####",
        "Via Garibaldi|Corso Vittorio Emanuele II|Viale dei Mille|Via delle Industrie|Piazza della Libertà",
        "{street}, %#;{pc} {city} ({region})|{street} %#/@;{pc} {city} {region}",
        "+39 {ac} {sub}|{ac} {sub}|(+39) {ac} {sub}",
        "+39 3%# ### ####|3%# ### ####|(+39) 3%# ### ####",
        "Tel.|Cell.|Fax",
    ),
    "NL": Country(
        "Anouk|Sanne|Lieke|Femke|Marloes",
        "Joost|Bram|Sjoerd|Thijs|Maarten",
        "de Vries|van den Berg|Jansen|Bakker|van Dijk|Visser|de Groot",
        "Projectmanager|Accountmanager|Directeur|Hoofd Inkoop|Adviseur Duurzaamheid",
        "Afdeling Verkoop|Technische Dienst|Klantenservice",
        "Installatietechniek|Vastgoed|Logistiek|Advies",
        "B.V.|N.V.",
        "Amsterdam,,10%# @@,20,%## ####|Rotterdam,,30%# @@,10,%## ####|"
        "Utrecht,,35%# @@,30,%## ####|Eindhoven,,56%# @@,40,%## ####",
        "Keizersgracht|Stationsplein|Industrieweg|Lange Voorhout|Marconistraat",
        "{street} %##;{pc} {city}|{street} %#-@;{pc} {city};Nederland",
        "+31 {ac} {sub}|0{ac} {sub}|0{ac}-{sub}",
        "+31 6 %### ####|06 %### ####|06-%### ####",
        "Tel.|Mob.|Fax",
    ),
    "BR": Country(
        "Ana Paula|Juliana|Fernanda|Letícia|Camila",
        "João|Rafael|Thiago|Gustavo|Rodrigo",
        "Araújo|Carvalho|Ribeiro|Gonçalves|Albuquerque|Moraes",
        "Gerente de Operações|Diretora Comercial/Diretor Comercial|"
        "Engenheira de Projetos/Engenheiro de Projetos|Analista de Sistemas",
        "Departamento Financeiro|Suprimentos|Engenharia de Produto",
        "Engenharia|Tecnologia|Alimentos|Logística",
        "Ltda.|S.A.",
        "São Paulo,SP,0%###-###,11,3%##-####|Rio de Janeiro,RJ,2%###-###,21,2%##-####|"
        "Belo Horizonte,MG,3%###-###,31,3%##-####|Curitiba,PR,8%###-###,41,3%##-####",
        "Rua das Palmeiras|Avenida dos Andradas|Rua Sete de Setembro|Alameda dos Ipês",
        "{street}, %## - Sala %#;{city} - {region};CEP {pc}|{street}, %.%##;{city}/{region} - {pc}",
        "+55 {ac} {sub}|({ac}) {sub}|+55 ({ac}) {sub}",
        "+55 {ac} 9%###-####|({ac}) 9%###-####|+55 ({ac}) 9%###-####",
        "Tel.|Cel.|Fax",
    ),
    "AU": Country(
        "Chloe|Kirra|Jess|Bree|Hayley",
        "Lachlan|Mitchell|Hamish|Jack|Travis",
        "McAllister|Kennedy|Fraser|O'Brien|Hollis|Barton",
        EN_TITLES,
        EN_DEPTS,
        "Mining Services|Solar|Surveying|Wine Co.",
        "Pty Ltd|Pty. Ltd.",
        "Sydney,NSW,2000,2,5550 ####|Melbourne,VIC,3000,3,7010 ####|Brisbane,QLD,4000,7,5550 ####|"
        "Perth,WA,6000,8,7010 ####",
        "Collins Street|George Street|Eagle Street|Hay Street|King William Street",
        "Level %, %## {street};{city} {region} {pc}|%# {street};{city} {region} {pc};Australia",
        "+61 {ac} {sub}|(0{ac}) {sub}|0{ac} {sub}",
        "+61 491 570 ###|0491 570 ###|0491 570 ###",
    ),
    "MX": Country(
        "Guadalupe|Ximena|Valeria|Mariana|Sofía",
        "Emiliano|Rodrigo|José Manuel|Diego|Alejandro",
        "Hernández Ríos|Villarreal|Castañeda|Ibarra|Zamora|Montoya",
        "Gerente de Ventas|Directora General/Director General|"
        "Coordinadora de Logística/Coordinador de Logística|Ingeniera de Procesos/Ingeniero de Procesos",
        "Dirección de Finanzas|Departamento de Calidad|Atención a Clientes",
        "Construcciones|Alimentos|Consultores|Logística",
        "S.A. de C.V.",
        "Ciudad de México,CDMX,0%#00,55,%### ####|Guadalajara,Jal.,44%#0,33,%### ####|"
        "Monterrey,N.L.,64%#0,81,%### ####|Puebla,Pue.,72%#0,222,%## ####",
        "Av. Insurgentes Sur|Calle Río Lerma|Av. Juárez|Calle Hidalgo",
        "{street} %##, Piso %;Col. Centro;{pc} {city}, {region}|{street} %##;{pc} {city}, {region}",
        "+52 {ac} {sub}|{ac} {sub}|({ac}) {sub}",
        "+52 {ac} 1%## ####|{ac} 1%## ####|({ac}) 1%## ####",
        "Tel.|Cel.|Fax",
    ),
    "SE": Country(
        "Åsa|Ingrid|Linnea|Maja|Karin",
        "Björn|Anders|Magnus|Nils|Oskar",
        "Lindqvist|Öberg|Sjöberg|Ekström|Bergkvist|Holmgren",
        "Utvecklingschef|Säljchef|Projektledare|VD|Konsult",
        "Ekonomi|Kundtjänst|Teknik & Utveckling",
        "Konsult|Bygg|Design|Energi",
        "AB",
        "Stockholm,,11% %#,8,%## ### ##|Göteborg,,41% %#,31,%## ## ##|Malmö,,21% %#,40,%## ## ##",
        "Drottninggatan|Storgatan|Kungsgatan|Hamngatan",
        "{street} %#;{pc} {city}|{street} %#;{pc} {city};Sweden",
        "+46 {ac} {sub}|0{ac}-{sub}|0{ac} {sub}",
        "+46 70 %## ## ##|070-%## ## ##|070 %## ## ##",
        "Tel|Mobil|Fax",
    ),
}


@dataclass(frozen=True)
class Spec:
    """What one card should look like; the seeded RNG fills in the content."""

    country: str
    layout: str  # left | centred | two_column | band_left | band_top | two_people
    fonts: str  # "name family/body family"
    scheme: str
    labels: str  # key of LABEL_SETS, "local" or "none"
    render: str = "flat"  # flat | skew (low-res scan) | photo
    turn: float = 0  # photo: quarter turns counter-clockwise; skew: degrees
    logo: str = ""  # "" | square | circle | rounded
    extras: str = ""  # dept 2titles caps social tagline fax join oneline italic light


SPECS = (
    Spec("US", "left", "sans/sans", "classic", "word", logo="square", extras="social fax"),
    Spec("GB", "centred", "serif/serif", "navy", "letter", extras="tagline"),
    Spec("DE", "two_column", "cond/cond", "classic", "local", extras="dept fax caps"),
    Spec("FR", "band_left", "serif/sans", "burgundy", "local", logo="circle", extras="italic"),
    Spec("ES", "centred", "sans/sans", "green", "phone", logo="rounded", extras="dept join"),
    Spec("IT", "left", "serif/serif", "cream", "local", logo="circle", extras="2titles"),
    Spec("NL", "two_column", "sans/sans", "dark", "letter", extras="social"),
    Spec("BR", "band_top", "sans/cond", "teal", "local", logo="square", extras="dept"),
    Spec("AU", "left", "sans/sans", "classic", "office", logo="circle", extras="fax caps tagline"),
    Spec("CA", "two_people", "serif/sans", "navy", "direct", logo="square", extras="fax"),
    Spec("MX", "centred", "serif/serif", "classic", "local", extras="2titles oneline"),
    Spec("SE", "left", "mono/mono", "classic", "none", extras="social"),
    Spec("US", "centred", "sans/sans", "petrol", "main", logo="circle", extras="social join tagline"),
    Spec("GB", "left", "sans/serif", "classic", "word", "skew", 2.2, extras="dept"),
    Spec("DE", "left", "serif/serif", "classic", "letter", "skew", -1.4, logo="square", extras="2titles fax"),
    Spec("US", "two_column", "sans/sans", "grey", "direct", extras="2titles dept light"),
    Spec("US", "left", "cond/sans", "classic", "phone", "photo", 0, logo="square", extras="fax"),
    Spec("DE", "band_left", "sans/sans", "teal", "local", "photo", 1, logo="rounded", extras="dept"),
    Spec("FR", "centred", "serif/serif", "classic", "letter", "photo", 2, extras="tagline"),
    Spec("GB", "two_column", "serif/sans", "navy", "word", "photo", 0, extras="social"),
    Spec("IT", "left", "sans/sans", "dark", "local", "photo", 3, logo="circle"),
    Spec("NL", "centred", "cond/cond", "burgundy", "letter", "photo", 0, extras="caps join"),
    Spec("AU", "two_column", "sans/sans", "green", "office", "photo", 2, extras="2titles"),
    Spec("SE", "band_top", "serif/sans", "teal", "local", "photo", 0, logo="square", extras="fax"),
)


@dataclass
class Phone:
    prefix: str  # printed label incl. separator, e.g. "T: "; "" when unlabelled
    number: str
    kind: str  # work | mobile | fax | other


@dataclass
class Person:
    name: str
    titles: list[str]
    email: str
    phones: list[Phone]


@dataclass
class Card:
    spec: Spec
    people: list[Person]
    company: str
    initials: str  # printed in the logo ("" when there is no logo)
    departments: list[str] = field(default_factory=list)
    website: tuple[str, str] = ("", "")  # (prefix, value)
    email_prefix: str = ""
    office_phones: list[Phone] = field(default_factory=list)
    address: list[str] = field(default_factory=list)
    social: list[tuple[str, str]] = field(default_factory=list)
    tagline: str = ""

    @property
    def flags(self) -> set[str]:
        return set(self.spec.extras.split())


def pick(rng: random.Random, options: str) -> str:
    """Choose one alternative from a '|'-joined string."""
    return rng.choice(options.split("|"))


def fill(rng: random.Random, template: str) -> str:
    """Replace '#' with a digit, '%' with a non-zero digit and '@' with a capital letter."""
    out = []
    for ch in template:
        if ch == "#":
            ch = str(rng.randrange(10))
        elif ch == "%":
            ch = str(rng.randrange(1, 10))
        elif ch == "@":
            ch = rng.choice("ABDEFGHJLNPRSTUWXYZ")
        out.append(ch)
    return "".join(out)


def slug(text: str) -> str:
    """ASCII-fold a name part for e-mail addresses and handles ('Weißenberg' -> 'weissenberg')."""
    text = unicodedata.normalize("NFKD", text.replace("ß", "ss").lower())
    return "".join(ch for ch in text if ch.isascii() and ch.isalnum())


def make_card(spec: Spec, rng: random.Random, brand: str, used: set[str]) -> Card:
    """Invent the content of one card (people, company, contacts) following ``spec``."""
    c, flags = COUNTRIES[spec.country], set(spec.extras.split())
    city, region, pc, ac, sub = pick(rng, c.cities).split(",")
    trade = pick(rng, c.trades)
    company = f"{brand} {trade} {pick(rng, c.suffixes)}"
    company = company.upper() if "caps" in flags else company
    # band and two-people layouts always draw a logo, left/centred only when asked, two-column never
    has_logo = spec.layout in ("band_left", "band_top", "two_people") or (
        spec.layout != "two_column" and bool(spec.logo)
    )
    domain = slug(brand) + rng.choice((".example", ".example", ".example", ".example.com", ".example.net"))
    labels = (
        ["", "", ""]
        if spec.labels == "none"
        else (c.local if spec.labels == "local" else LABEL_SETS[spec.labels]).split("|")
    )
    short = len(labels[0]) == 1
    sep = "" if spec.labels == "none" else rng.choice((": ", " ", "  ") if short else (": ", " "))
    fmt = rng.randrange(len(c.work.split("|")))
    numbers: set[str] = set()

    def phone(kind: str) -> Phone:
        tpl = (c.work if kind != "mobile" else c.mobile).split("|")[fmt]
        number = ""
        while not number or number in numbers:
            number = fill(rng, tpl.format(ac=ac, sub=sub))
        numbers.add(number)
        label = labels[("work", "mobile", "fax").index(kind)]
        return Phone(label + sep if label else "", number, kind if label else "other")

    pattern = rng.choice(EMAIL_PATTERNS[:3] if spec.layout == "two_people" else EMAIL_PATTERNS)
    people: list[Person] = []
    for _ in range(2 if spec.layout == "two_people" else 1):
        female = rng.random() < 0.5
        name, first, last = "", "", ""
        while not name or name in used or any(p.name.endswith(last) for p in people):
            first, last = pick(rng, c.female if female else c.male), pick(rng, c.last)
            name = f"{first} {last}"
        used.add(name)
        titles = [
            t.split("/")[0 if female else -1]
            for t in rng.sample(c.titles.split("|"), 2 if "2titles" in flags else 1)
        ]
        local = pattern.format(first=slug(first), last=slug(last), f=slug(first)[0], l=slug(last)[0])
        kinds = ["work", "mobile"] if spec.layout == "two_people" or rng.random() < 0.75 else ["work"]
        kinds += ["fax"] if "fax" in flags and spec.layout != "two_people" else []
        people.append(Person(name, titles, f"{local}@{domain}", [phone(k) for k in kinds]))
    card = Card(spec, people, company, "".join(w[0] for w in (brand, trade)).upper() if has_logo else "")
    if "dept" in flags:
        card.departments = [pick(rng, c.depts)]
    if spec.labels != "none":
        card.email_prefix = "E" + sep if short else rng.choice(("Email: ", "E-mail: ", ""))
    if rng.random() < 0.85 or spec.layout == "two_people":
        web = rng.choice(("www.{}", "{}", "https://www.{}", "http://{}/", "https://{}")).format(domain)
        prefix = "W" + sep if short else "" if spec.labels == "none" else rng.choice(("Web: ", ""))
        card.website = (prefix, web)
    if spec.layout == "two_people":
        card.office_phones = [phone("fax")]
    card.address = fill(
        rng, pick(rng, c.addresses).format(street=pick(rng, c.streets), city=city, region=region, pc=pc)
    ).split(";")
    if "social" in flags:
        profile = "-".join(slug(part) for part in people[0].name.split())
        options = [
            ("", f"linkedin.com/in/{profile}"),
            (rng.choice(("X: ", "Twitter: ")), f"@{slug(brand)}"),
            ("Instagram ", f"@{slug(brand)}.{slug(trade)}"),
        ]
        card.social = rng.sample(options, rng.choice((1, 2)))
    if "tagline" in flags:
        card.tagline = rng.choice(TAGLINES)
    return card


def to_label(card: Card, quality: str, notes: str) -> dict:
    """Build the ground-truth record in the evaluation-set format."""
    phones = [ph for p in card.people for ph in p.phones] + card.office_phones
    return {
        "names": [p.name for p in card.people],
        "job_titles": [t for p in card.people for t in p.titles],
        "departments": card.departments,
        "companies": [card.company],
        "emails": [p.email for p in card.people],
        "websites": [card.website[1]] if card.website[1] else [],
        "phones": [{"number": ph.number, "type": ph.kind} for ph in phones],
        "addresses": [", ".join(card.address)],
        "social": [v for _, v in card.social],
        "country": card.spec.country,
        "non_latin": [],
        "quality": quality,
        "notes": "; ".join([notes, *(f"not labelled: {t!r}" for t in (card.initials, card.tagline) if t)]),
        "unlabelled": [],
    }


# ---------------------------------------------------------------- drawing


@functools.cache
def font(family: str, style: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / f"{FONT_FILES[family][style]}.ttf"), size)


@dataclass
class Line:
    """One printed line made of differently coloured/styled parts of one font family."""

    parts: list[Part]
    family: str
    size: int
    gap: float = 0.0  # extra space before the line, in ems
    spring: bool = False  # unused height of the block goes before this line

    def width(self, size: int) -> float:
        return sum(font(self.family, st, size).getlength(t) for t, _, st in self.parts)


@dataclass(frozen=True)
class Style:
    name_family: str
    body_family: str
    title_family: str
    colours: tuple[RGB, RGB, RGB, RGB, RGB]  # bg, name, text, accent, on-accent
    italic: bool

    def line(self, role: str, text: str, size: int = 0, colour: RGB | None = None, gap: float = 0.0) -> Line:
        """A line in the typographic role name | title | dept | company | tagline | body."""
        _, name_c, text_c, accent, _ = self.colours
        family, style, default_c, default_size = {
            "name": (self.name_family, BOLD, name_c, 60),
            "title": (self.title_family, ITAL if self.italic else REG, text_c, 33),
            "dept": (self.body_family, REG, text_c, 29),
            "company": (self.name_family, BOLD, accent, 35),
            "tagline": (self.body_family, ITAL, accent, 26),
            "body": (self.body_family, REG, text_c, BODY),
        }[role]
        return Line([(text, colour or default_c, style)], family, size or default_size, gap)

    def contact(self, items: list[tuple[str, str]], sep: str = "   ") -> Line:
        """Contact items (prefix, value) on one line; prefixes in the accent colour."""
        parts: list[Part] = []
        for i, (prefix, value) in enumerate(items):
            if i:
                parts.append((sep, self.colours[2], REG))
            if prefix:
                parts.append((prefix, self.colours[3], BOLD))
            parts.append((value, self.colours[2], REG))
        return Line(parts, self.body_family, BODY)


def draw_block(
    img: Image.Image,
    lines: list[Line],
    box: tuple[int, int, int, int],
    halign: str = "left",
    valign: str = "top",
) -> None:
    """Draw lines into box, shrinking the block to fit; a too-wide line may shrink alone by up to 25%."""
    x0, y0, w, h = box
    scale = 1.0
    while True:
        sizes, squeezed = [], False
        for ln in lines:
            size = round(ln.size * scale)
            width = ln.width(size)
            sizes.append(int(size * w / width) if width > w else size)
            squeezed |= sizes[-1] < 0.75 * size
        heights = [round(sz * (1.28 + ln.gap)) for ln, sz in zip(lines, sizes, strict=True)]
        if (sum(heights) <= h and not squeezed) or scale < 0.45:
            break
        scale *= 0.97
    extra = max(0, h - sum(heights))
    has_spring = any(ln.spring for ln in lines)
    y = y0 + (0 if has_spring else {"top": 0, "center": extra // 2, "bottom": extra}[valign])
    draw = ImageDraw.Draw(img)
    for ln, sz, ht in zip(lines, sizes, heights, strict=True):
        y += extra if ln.spring else 0
        if sz < 18:
            print(f"warning: {ln.parts[0][0]!r} rendered at {sz}px", file=sys.stderr)
        width = ln.width(sz)
        x = x0 + {"left": 0, "center": (w - width) / 2, "right": w - width}[halign]
        for text, colour, style in ln.parts:
            f = font(ln.family, style, sz)
            draw.text((round(x), y + round(sz * ln.gap)), text, font=f, fill=colour)
            x += f.getlength(text)
        y += ht


def draw_logo(
    img: Image.Image, xy: tuple[int, int], size: int, shape: str, fill: RGB, ink: RGB, text: str, family: str
) -> None:
    """A filled square/rounded square/circle with the company initials."""
    d = ImageDraw.Draw(img)
    box = (xy[0], xy[1], xy[0] + size, xy[1] + size)
    if shape == "circle":
        d.ellipse(box, fill=fill)
    elif shape == "rounded":
        d.rounded_rectangle(box, radius=size // 5, fill=fill)
    else:
        d.rectangle(box, fill=fill)
    d.text(
        (xy[0] + size / 2, xy[1] + size / 2),
        text,
        font=font(family, BOLD, int(size * 0.42)),
        fill=ink,
        anchor="mm",
    )


def identity(st: Style, card: Card, person: Person, company: str = "last") -> list[Line]:
    """Name, titles, department, tagline and the company placed "first", "last" or "none"."""
    lines = [st.line("company", card.company)] if company == "first" else []
    lines.append(st.line("name", person.name, gap=0.4 if company == "first" else 0.0))
    lines += [st.line("title", t) for t in person.titles] + [st.line("dept", d) for d in card.departments]
    lines += [st.line("company", card.company, gap=0.3)] if company == "last" else []
    return lines + ([st.line("tagline", card.tagline)] if card.tagline else [])


def contacts(st: Style, card: Card, person: Person, join_width: int = 0) -> list[Line]:
    """Phone, e-mail, web and social lines; groups that fit in ``join_width`` px share a line."""
    phones = [(ph.prefix, ph.number) for ph in person.phones + card.office_phones]
    online = [(card.email_prefix, person.email)] + ([card.website] if card.website[1] else [])
    lines = []
    for group in (phones, online, card.social):
        joined = st.contact(group, "  |  " if "join" in card.flags else "    ")
        if len(group) > 1 and joined.width(BODY) <= join_width:
            lines.append(joined)
        else:
            lines += [st.contact([item]) for item in group]
    return lines


def with_spring(lines: list[Line], gap: float = 0.3) -> list[Line]:
    lines[0].spring, lines[0].gap = True, gap
    return lines


def address(st: Style, card: Card, oneline: bool = False) -> list[Line]:
    if oneline or "oneline" in card.flags:
        return [st.line("body", ", ".join(card.address), gap=0.3)]
    return [st.line("body", a, gap=0.3 if i == 0 else 0.0) for i, a in enumerate(card.address)]


def render_flat(card: Card, st: Style) -> Image.Image:
    """Render the card face in one of the layouts."""
    spec, p = card.spec, card.people[0]
    w, h = (1050, 600) if spec.country in ("US", "CA") else (1004, 650)
    bg, _, _, accent, on_accent = st.colours
    img, m = Image.new("RGB", (w, h), bg), 60
    draw = ImageDraw.Draw(img)
    caps = "caps" in card.flags
    if spec.layout == "left":
        reserve = 0
        if spec.logo:
            draw_logo(img, (w - m - 136, m), 136, spec.logo, accent, on_accent, card.initials, st.name_family)
            reserve = 136 + 28
        lines = identity(st, card, p, "first" if caps else "last")
        lines += with_spring(contacts(st, card, p)) + address(st, card)
        draw_block(img, lines, (m, m, w - 2 * m - reserve, h - 2 * m))
    elif spec.layout == "centred":
        top = m
        if spec.logo:
            draw_logo(
                img, (w // 2 - 55, m - 16), 110, spec.logo, accent, on_accent, card.initials, st.name_family
            )
            top += 110
        lines = identity(st, card, p, "first" if caps else "last")
        lines += with_spring(contacts(st, card, p, join_width=w - 2 * m), 0.5)
        draw_block(img, lines + address(st, card, oneline=True), (m, top, w - 2 * m, h - top - m), "center")
    elif spec.layout == "two_column":
        draw_block(img, [st.line("company", card.company)], (m, m - 14, w - 2 * m, 50))
        draw.line([(m, m + 44), (w - m, m + 44)], fill=accent, width=2)
        split, top = m + int((w - 2 * m) * 0.44), m + 76
        left = identity(st, card, p, "none")
        draw_block(img, left, (m, top, split - m - 24, h - top - m), valign="center")
        draw.line([(split, top + 10), (split, h - m)], fill=accent, width=3)
        right = contacts(st, card, p) + address(st, card)
        draw_block(img, right, (split + 30, top, w - split - 30 - m, h - top - m), valign="center")
    elif spec.layout == "band_left":
        band = int(w * 0.3)
        draw.rectangle((0, 0, band, h), fill=accent)
        draw_logo(
            img,
            (band // 2 - 80, h // 2 - 80),
            160,
            spec.logo,
            on_accent,
            accent,
            card.initials,
            st.name_family,
        )
        lines = identity(st, card, p, "first") + with_spring(contacts(st, card, p)) + address(st, card)
        draw_block(img, lines, (band + 48, m, w - band - 48 - m, h - 2 * m))
    elif spec.layout == "band_top":
        band = int(h * 0.25)
        draw.rectangle((0, 0, w, band), fill=accent)
        draw_logo(img, (m, band // 2 - 50), 100, spec.logo, on_accent, accent, card.initials, st.name_family)
        name = st.line("company", card.company, size=38, colour=on_accent)
        draw_block(img, [name], (m + 130, 0, w - 2 * m - 130, band), valign="center")
        left = identity(st, card, p, "none")
        draw_block(img, left, (m, band + 40, int(w * 0.42) - m, h - band - 40 - m))
        box = (int(w * 0.45), band + 40, int(w * 0.55) - m, h - band - 40 - m)
        draw_block(img, contacts(st, card, p) + address(st, card), box, valign="center")
    elif spec.layout == "two_people":
        draw_logo(img, (m, m - 10), 96, spec.logo, accent, on_accent, card.initials, st.name_family)
        draw_block(
            img,
            [st.line("company", card.company, size=40)],
            (m + 124, m - 10, w - 2 * m - 124, 96),
            valign="center",
        )
        col = (w - 2 * m - 48) // 2
        for i, person in enumerate(card.people):
            lines = [st.line("name", person.name, size=40)] + [st.line("title", t) for t in person.titles]
            lines += [st.contact([(ph.prefix, ph.number)]) for ph in person.phones]
            lines += [st.contact([(card.email_prefix, person.email)])]
            draw_block(img, lines, (m + i * (col + 48), m + 120, col, h - 2 * m - 230))
        draw.line([(m, h - m - 96), (w - m, h - m - 96)], fill=accent, width=2)
        office = [st.contact([(ph.prefix, ph.number) for ph in card.office_phones] + [card.website])]
        draw_block(
            img, office + address(st, card, oneline=True), (m, h - m - 84, w - 2 * m, 84 + m // 2), "center"
        )
    return img


def skewed_scan(card: Image.Image, angle: float) -> Image.Image:
    """A low-resolution flatbed scan: card on a light-grey lid, rotated a little, ~600 px wide."""
    lid = (232, 232, 228)
    canvas = Image.new("RGB", (card.width + 60, card.height + 60), lid)
    canvas.paste(card, (30, 30))
    canvas = canvas.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=lid)
    return canvas.resize((600, round(600 * canvas.height / canvas.width)), Image.Resampling.LANCZOS)


def photograph(card: Image.Image, rng: np.random.Generator, quarter_turns: int) -> Image.Image:
    """Fake a phone photo: textured desk, perspective, shadow, uneven light, blur, noise, rotation."""
    big_w, big_h = 1600, 1200
    cw, ch = card.size
    base = rng.uniform(70, 175) + np.array([8.0, 0.0, -8.0]) * rng.uniform(-1, 1)
    texture = sum(
        cv2.resize(
            rng.normal(0, amp, (h, w)).astype(np.float32), (big_w, big_h), interpolation=cv2.INTER_CUBIC
        )
        for h, w, amp in ((6, 8, 14), (60, 80, 5))
    )
    bg = base[None, None, :] + texture[..., None]
    # card corners: scaled, rotated, centred with jitter, one edge shortened (tilt) plus corner noise
    scale = rng.uniform(0.62, 0.74) * big_w / cw
    ang = np.deg2rad(rng.uniform(-7, 7))
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    corners = np.array([[-cw, -ch], [cw, -ch], [cw, ch], [-cw, ch]], np.float64) / 2 * scale
    a = int(rng.integers(4))
    b = (a + 1) % 4
    shrink = rng.uniform(0.03, 0.08) * (corners[b] - corners[a])
    corners[a] += shrink
    corners[b] -= shrink
    dst = corners @ rot.T + [big_w / 2 + rng.uniform(-50, 50), big_h / 2 + rng.uniform(-40, 40)]
    dst += rng.uniform(-10, 10, (4, 2))
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(np.asarray(card, np.float32), matrix, (big_w, big_h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((ch, cw), np.float32), matrix, (big_w, big_h), flags=cv2.INTER_LINEAR)
    shadow = cv2.GaussianBlur(np.roll(mask, (18, 14), axis=(0, 1)), (0, 0), 16) * rng.uniform(0.35, 0.55)
    out = bg * (1 - shadow[..., None])
    out = out * (1 - mask[..., None]) + warped * mask[..., None]
    # light: linear gradient in a random direction, vignette and a warm/cool cast
    yy, xx = np.mgrid[-1 : 1 : big_h * 1j, -1 : 1 : big_w * 1j]
    phi = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0.08, 0.18) * (xx * np.cos(phi) + yy * np.sin(phi)) - 0.12 * (xx**2 + yy**2) / 2
    out = out * light[..., None] * (1 + np.array([0.03, 0.0, -0.04]) * rng.uniform(-1, 1))
    out = cv2.GaussianBlur(out.astype(np.float32), (0, 0), rng.uniform(0.7, 1.2))
    out = out + rng.normal(0, 2.5, out.shape)
    return Image.fromarray(np.rot90(np.clip(out, 0, 255).astype(np.uint8), quarter_turns).copy())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in [*args.out.glob("card_*.png"), *args.out.glob("photo_*.jpg"), *args.out.glob("hard_*.*")]:
        stale.unlink()
    rng, nrng = random.Random(args.seed), np.random.default_rng(args.seed)
    brands, used = rng.sample(BRANDS, len(SPECS)), set()
    labels, counts = {}, {"scan": 0, "photo": 0}
    for spec, brand in zip(SPECS, brands, strict=True):
        card = make_card(spec, rng, brand, used)
        name_family, body_family = spec.fonts.split("/")
        title_family = "light" if "light" in card.flags else body_family
        italic = "italic" in card.flags or rng.random() < 0.3
        img = render_flat(card, Style(name_family, body_family, title_family, SCHEMES[spec.scheme], italic))
        quality = "photo" if spec.render == "photo" else "scan"
        counts[quality] += 1
        notes = f"synthetic; {spec.layout} layout, {spec.scheme} colours, {spec.fonts} fonts"
        if spec.render == "photo":
            img = photograph(img, nrng, int(spec.turn))
            notes += (
                "; photo",
                "; photo turned 90° counter-clockwise",
                "; photo upside down",
                "; photo turned 90° clockwise",
            )[int(spec.turn)]
            fname = f"photo_{counts['photo']:02d}.jpg"
            img.save(args.out / fname, quality=85, optimize=True)
        else:
            if spec.render == "skew":
                img = skewed_scan(img, spec.turn)
                notes += f"; low-resolution scan ({img.width} px wide), skewed {spec.turn:+.1f}°"
            fname = f"card_{counts['scan']:02d}.png"
            img.save(args.out / fname, optimize=True)
        labels[fname] = to_label(card, quality, notes)
        print(f"{fname:13} {spec.country} {spec.layout:10} {spec.render:5} {card.company}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import hard  # the harder set, drawn after the base cards with its own RNG (base cards unchanged)

    labels.update(hard.generate(args.out, args.seed, photograph))
    text = json.dumps(dict(sorted(labels.items())), indent=2, ensure_ascii=False)
    (args.out / "labels.json").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

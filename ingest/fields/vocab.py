"""Word lists the layout rules use. Kept apart so they can be reviewed and grown without touching logic."""

from __future__ import annotations

import re

TITLE_WORDS = {
    "manager", "director", "engineer", "ceo", "cto", "cfo", "coo", "cio", "cmo", "president", "officer",
    "head", "representative", "researcher", "consultant", "partner", "founder", "co-founder", "cofounder",
    "chief", "vp", "vice", "lead", "leader", "specialist", "analyst", "associate", "assistant",
    "coordinator", "executive", "member", "architect", "developer", "designer", "advisor", "adviser",
    "professor", "prof", "apprentice", "chairman", "chairwoman", "chair", "secretary", "treasurer",
    "attorney", "lawyer", "counsel", "accountant", "agent", "broker", "owner", "principal", "supervisor",
    "administrator", "scientist", "fellow", "lecturer", "student", "intern", "technician", "editor",
    "writer", "producer", "photographer", "chef", "doctor", "physician", "nurse", "therapist", "realtor",
    "sales", "salesperson", "trainer", "coach", "instructor", "teacher", "strategist",
    "controller", "auditor", "buyer", "planner", "programmer", "evangelist", "ambassador", "advocate",
    "manageress", "gérant", "gerente", "directeur", "directrice", "geschäftsführer", "geschaftsfuhrer",
    "leiter", "leiterin", "ingenieur", "berater", "direttore", "responsable", "chargé", "charge",
    "commercial", "senior", "junior", "deputy", "general", "regional", "managing", "board", "ceo.",
    "specialista", "inhaber", "inhaberin", "socio", "fondateur", "fondatrice", "gestor", "consultor",
    "diretor", "diretora", "directora", "jefe", "jefa", "representante", "asesor", "asesora", "md",
    "svp", "evp", "avp", "gm", "pm", "hr", "expert", "operator", "superintendent", "commissioner",
    "dean", "chancellor", "registrar", "curator", "librarian", "pastor", "mayor", "governor", "minister",
    "attaché", "attache", "envoy", "delegate", "trustee", "investigator", "postdoc",
    "examiner", "inspector", "surveyor", "appraiser", "economist", "translator", "interpreter",
    "pharmacist", "dentist", "surgeon", "paralegal", "notary", "clerk", "receptionist",
    "artist", "author", "journalist", "reporter", "correspondent", "mentor", "negotiator",
    "estimator", "recruiter", "underwriter", "actuary", "banker", "solicitor", "barrister",
    "psychologist", "veterinarian", "optometrist", "chiropractor", "stylist",
}  # fmt: skip
DEPARTMENT_WORDS = {
    "department", "dept", "dept.", "division", "section", "unit", "laboratory", "lab", "labs", "team",
    "bureau", "office", "center", "centre", "group", "faculty", "school", "institute", "program",
    "programme", "abteilung", "département", "departement", "service", "direction", "sales", "marketing",
    "operations", "finance", "engineering", "research", "development", "r&d", "hr", "resources",
}  # fmt: skip
STRONG_DEPARTMENT_WORDS = {"department", "dept", "dept.", "division", "section", "abteilung", "département",
                           "departement", "bureau", "laboratory", "faculty", "departamento", "dipartimento",
                           "afdeling", "avdelning", "einkauf", "qualitätssicherung", "buchhaltung",
                           "personalabteilung", "logistik", "logística", "logistica", "acquisti"}  # fmt: skip

LEGAL_SUFFIX = re.compile(
    r"(?:\b(?:inc|llc|ltd|limited|corp|corporation|company|gmbh|ag|plc|llp|lp|pty|pte|kk|co|s\.?a\.?s?|"
    r"s\.?a\.?r\.?l|s\.?r\.?l|s\.?p\.?a|b\.?v|n\.?v|a\.?s|a/s|ab|oy|oyj|kg|se|sl|s\.?l|ltda|bhd|sdn|"
    r"pvt|holdings?|group|groupe|gruppe|grupo|& co|and co|l\.l\.c|l\.p|p\.c|p\.a|s\.c)\b\.?)(?:[\s,]|$)",
    re.I,
)
COMPANY_WORDS = {
    "university", "universität", "université", "universidad", "college", "bank", "hotel", "hotels",
    "laboratories", "institute", "association", "foundation", "agency", "consulting", "solutions",
    "technologies", "technology", "systems", "services", "partners", "studio", "studios", "labs",
    "international", "industries", "enterprises", "ventures", "capital", "media", "networks", "software",
    "electronics", "pharma", "pharmaceuticals", "logistics", "trading", "realty", "properties", "motors",
    "airlines", "insurance", "clinic", "hospital", "restaurant", "café", "cafe", "bakery", "grill",
    "design", "architects", "associates", "advisors", "global", "worldwide", "corporation", "council",
    "ministry", "embassy", "society", "academy", "gmbh", "inc", "ltd", "llc", "project", "initiative",
    "research", "communications", "energy", "engineering", "construction", "manufacturing", "marketing",
    "care", "dental", "health", "healthcare", "medical", "law", "legal", "travel", "resources", "school",
    "church", "museum", "gallery", "store", "shop", "market", "farm", "foods",
}  # fmt: skip
US_STATE_NAMES = {
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware",
    "florida", "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky",
    "louisiana", "maine", "maryland", "massachusetts", "michigan", "minnesota", "mississippi", "missouri",
    "montana", "nebraska", "nevada", "new hampshire", "new jersey", "new mexico", "new york",
    "north carolina", "north dakota", "ohio", "oklahoma", "oregon", "pennsylvania", "rhode island",
    "south carolina", "south dakota", "tennessee", "texas", "utah", "vermont", "virginia", "washington",
    "west virginia", "wisconsin", "wyoming",
}  # fmt: skip

STREET_WORDS = {
    "street", "st", "st.", "road", "rd", "rd.", "avenue", "ave", "ave.", "av", "av.", "blvd", "blvd.",
    "boulevard", "bd", "lane", "ln", "drive", "dr.", "way", "place", "pl", "pl.", "square", "sq", "court",
    "ct", "suite", "ste", "ste.", "floor", "fl", "fl.", "building", "bldg", "bldg.", "tower", "plaza",
    "parkway", "pkwy", "highway", "hwy", "terrace", "crescent", "close", "rue", "route", "chemin", "allée",
    "strasse", "straße", "str", "str.", "weg", "platz", "gasse", "allee", "ring", "damm", "via", "viale",
    "piazza", "corso", "calle", "avenida", "carrera", "rua", "praça", "straat", "laan", "plein", "gracht",
    "vej", "gatan", "gate", "p.o.", "box", "po", "postbus", "apartado", "cedex", "chome", "ward", "district",
    "city", "prefecture", "province", "county", "floor,", "unit", "level", "room", "bldg.,", "centre",
    "center", "house", "park", "estate", "industrial", "zone", "quarter", "block", "po box", "mall", "road,",
    "wharf", "row", "mews", "hill", "gardens", "grove", "walk", "circle", "cir", "expressway", "sector",
}  # fmt: skip
COUNTRIES = {
    "usa", "u.s.a.", "united states", "uk", "u.k.", "united kingdom", "england", "scotland", "wales",
    "ireland", "france", "germany", "deutschland", "spain", "españa", "italy", "italia", "portugal",
    "netherlands", "the netherlands", "nederland", "belgium", "belgique", "switzerland", "schweiz",
    "suisse", "austria", "österreich", "sweden", "sverige", "norway", "denmark", "finland", "poland",
    "czech republic", "hungary", "greece", "turkey", "russia", "ukraine", "romania", "japan", "china",
    "p.r. china", "prc", "taiwan", "korea", "south korea", "hong kong", "singapore", "malaysia",
    "thailand", "vietnam", "viet nam", "indonesia", "philippines", "india", "pakistan", "bangladesh",
    "sri lanka", "australia", "new zealand", "canada", "mexico", "méxico", "brazil", "brasil",
    "argentina", "chile", "colombia", "peru", "morocco", "maroc", "algeria", "tunisia", "egypt",
    "kenya", "nigeria", "ghana", "south africa", "ethiopia", "tanzania", "uganda", "rwanda",
    "uae", "u.a.e.", "united arab emirates", "saudi arabia", "qatar", "kuwait", "bahrain", "oman",
    "israel", "jordan", "lebanon", "luxembourg", "monaco",
}  # fmt: skip
COUNTRY_REGION = {
    "usa": "US", "u.s.a.": "US", "united states": "US", "uk": "GB", "u.k.": "GB", "united kingdom": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "ireland": "IE", "france": "FR", "germany": "DE",
    "deutschland": "DE", "spain": "ES", "españa": "ES", "italy": "IT", "italia": "IT", "portugal": "PT",
    "netherlands": "NL", "the netherlands": "NL", "nederland": "NL", "belgium": "BE", "belgique": "BE",
    "switzerland": "CH", "schweiz": "CH", "suisse": "CH", "austria": "AT", "österreich": "AT",
    "sweden": "SE", "sverige": "SE", "norway": "NO", "denmark": "DK", "finland": "FI", "poland": "PL",
    "czech republic": "CZ", "hungary": "HU", "greece": "GR", "turkey": "TR", "russia": "RU",
    "ukraine": "UA", "romania": "RO", "japan": "JP", "china": "CN", "p.r. china": "CN", "prc": "CN",
    "taiwan": "TW", "korea": "KR", "south korea": "KR", "hong kong": "HK", "singapore": "SG",
    "malaysia": "MY", "thailand": "TH", "vietnam": "VN", "viet nam": "VN", "indonesia": "ID",
    "philippines": "PH", "india": "IN", "pakistan": "PK", "bangladesh": "BD", "sri lanka": "LK",
    "australia": "AU", "new zealand": "NZ", "canada": "CA", "mexico": "MX", "méxico": "MX",
    "brazil": "BR", "brasil": "BR", "argentina": "AR", "chile": "CL", "colombia": "CO", "peru": "PE",
    "morocco": "MA", "maroc": "MA", "algeria": "DZ", "tunisia": "TN", "egypt": "EG", "kenya": "KE",
    "nigeria": "NG", "ghana": "GH", "south africa": "ZA", "ethiopia": "ET", "tanzania": "TZ",
    "uganda": "UG", "rwanda": "RW", "uae": "AE", "u.a.e.": "AE", "united arab emirates": "AE",
    "saudi arabia": "SA", "qatar": "QA", "kuwait": "KW", "bahrain": "BH", "oman": "OM", "israel": "IL",
    "jordan": "JO", "lebanon": "LB", "luxembourg": "LU", "monaco": "MC",
}  # fmt: skip
US_STATES = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
    "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
}  # fmt: skip
POSTCODE = re.compile(
    r"\b(?:\d{5}(?:-\d{4})?|\d{3}-\d{4}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|\d{4}\s?[A-Z]{2}|\d{2}-\d{3}|"
    r"[A-Z]\d[A-Z]\s?\d[A-Z]\d|\d{4,6})\b"
)
US_STATE_ZIP = re.compile(r"\b(?:" + "|".join(sorted(US_STATES)) + r")\.?\s+\d{5}(?:-\d{4})?\b")
NON_NAME_WORDS = {
    "the", "and", "of", "for", "to", "in", "on", "at", "by", "with", "your", "our", "we", "you", "is",
    "tel", "fax", "email", "e-mail", "mobile", "phone", "web", "www", "address", "office", "www.",
    "inspire", "next", "since", "member", "certified", "registered", "licensed", "official",
}  # fmt: skip
NAME_PARTICLES = {"van", "von", "de", "der", "den", "da", "di", "del", "della", "du", "la", "le", "bin",
                  "bint", "al", "el", "ibn", "mac", "st", "y", "dos", "das", "ter", "ten", "zu"}  # fmt: skip
HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "dipl", "ing", "mag", "herr", "frau",
              "mme", "mlle", "m.", "sr", "sra", "dott", "dott.ssa", "ir", "eng"}  # fmt: skip
POSTNOMINALS = re.compile(
    r"[,\s]+(?:ph\.?\s?d\.?|m\.?\s?d\.?|d\.?d\.?s\.?|d\.?m\.?d\.?|mba|emba|cpa|cfa|esq\.?|jr\.?|sr\.?|ii|iii|iv|"
    r"msc|m\.?sc\.?|bsc|b\.?sc\.?|ma|ba|meng|m\.?eng\.?|pe|p\.?e\.?|rn|frcs|mrics|frics|fca|aca|acca|cissp|pmp)"
    r"\.?\s*$",
    re.I,
)

# Lines that alone are never a company: a country or a US state's name ends an address.
COMPANIES_NEVER_ALONE = COUNTRIES | set(COUNTRY_REGION) | {s.lower() for s in US_STATE_NAMES}

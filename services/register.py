"""The record of processing activities (GDPR Art. 30), generated — never written by hand.

Everything in it comes from the code that applies it: the purposes and what each may see
from the policy table (:data:`models.policy.POLICY`), the recipients from the partner
registry, the periods from the retention settings. So the register cannot drift from what
the service does. Purposes carry Fideslang data-use keys and fields Fideslang data
categories, for tools that read them.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from core.settings import Settings
from core.times import iso_utc
from models.policy import POLICY, NoticeRule
from models.tables import utcnow
from services.partners import list_partners

DATA_USES = {
    "own": "essential.service",
    "invites": "marketing.communications.email",
    "catalog": "functional.service",
    "partner_sharing": "third_party_sharing",
    "notices": "essential.legal_obligation",
}
DESCRIPTIONS = {
    "own": "The uploader's own address book of the cards they uploaded.",
    "invites": "One e-mail inviting the person on a card to try the service.",
    "catalog": "An industry and company catalog built from business details.",
    "partner_sharing": "Disclosure to registered business partners for their direct marketing.",
    "notices": "Telling the people on the cards that we hold their data (Art. 14).",
}
BASES = {
    "own": "Art. 6(1)(f) legitimate interests of the uploader (their business contacts)",
    "invites": "Art. 6(1)(f) legitimate interests; the person may opt out at any time",
    "catalog": "Art. 6(1)(f) legitimate interests; business details only",
    "partner_sharing": "Art. 6(1)(f) legitimate interests, with the uploader's attestation; opt-out honoured",
    "notices": "Art. 6(1)(c) legal obligation (Art. 14)",
}
FIELD_CATEGORIES = {
    "names": "user.name",
    "emails": "user.contact.email",
    "phones": "user.contact.phone_number",
    "addresses": "user.contact.address",
    "job_titles": "user.job_title",
    "departments": "user.job_title",
    "companies": "user.contact.organization",
    "websites": "user.contact.organization",
    "social": "user.contact",
}


def register(session: Session, settings: Settings) -> dict[str, Any]:
    """The register as JSON-ready data."""
    partners = list_partners(session)
    retention = {
        "card_images_days": settings.retain_images_days,
        "ocr_text_and_boxes_days": settings.retain_ocr_days,
        "records_without_use_months": settings.retain_unused_months,
        "disclosure_log_and_ledger_days": settings.retain_ledger_days,
        "audit_events_days": settings.retain_audit_days,
        "jobs_and_claims_days": settings.retain_jobs_days,
        "import_reports_days": settings.retain_reports_days,
    }
    activities = []
    for purpose, rule in POLICY.items():
        fields = sorted({f.field for f in rule.fields} if rule.fields is not None else set(FIELD_CATEGORIES))
        activities.append(
            {
                "purpose": purpose,
                "data_use": DATA_USES[purpose],
                "description": DESCRIPTIONS[purpose],
                "lawful_basis": BASES[purpose],
                "data_subjects": "people whose business cards were uploaded by users of the service",
                "fields": fields,
                "data_categories": sorted({FIELD_CATEGORIES[f] for f in fields}),
                "needs_permitted_use": sorted(str(u) for u in rule.uses) if rule.uses else [],
                "needs_attestation": rule.needs_attestation,
                "needs_identified_person": rule.needs_identified_person,
                "needs_notice": rule.notice.value if rule.notice is not NoticeRule.none else None,
                "excluded_when": sorted(r.value for r in rule.suppressed_by)
                + (["is_user"] if rule.excludes_users else []),
                "recipients": [p["legal_name"] for p in partners if purpose in p["purposes"]]
                if purpose == "partner_sharing"
                else ([] if purpose != "notices" else ["the person on the card"]),
            }
        )
    return {
        "generated_at": iso_utc(utcnow()),
        "controller": {"name": settings.controller_name, "contact": settings.controller_contact},
        "activities": activities,
        "recipients": partners,
        "retention": retention,
        "safeguards": [
            "every read for a purpose goes through one policy; nothing is cached",
            "people are matched by salted hashes (HMAC-SHA256) of their e-mails, phones and names",
            "every disclosure is logged before the data leaves; an erasure keeps a hash-keyed ledger",
            "the audit log holds ids, codes and counts, never personal data",
            "erasure overwrites SQLite pages (secure_delete) and checkpoints the WAL",
        ],
    }


def register_markdown(data: dict[str, Any]) -> str:
    """The register as Markdown, for the privacy officer's file."""
    lines = [
        "# Record of processing activities (GDPR Art. 30)",
        "",
        f"Controller: {data['controller']['name']} — {data['controller']['contact']}  ",
        f"Generated: {data['generated_at']}",
        "",
        "| purpose | data use | lawful basis | data categories | needs | excluded when | recipients |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for a in data["activities"]:
        needs = [*a["needs_permitted_use"]]
        needs += ["attestation"] if a["needs_attestation"] else []
        needs += ["identified person"] if a["needs_identified_person"] else []
        needs += [f"notice {a['needs_notice']}"] if a["needs_notice"] else []
        cells = [
            a["purpose"],
            f"`{a['data_use']}`",
            a["lawful_basis"],
            ", ".join(a["data_categories"]),
            ", ".join(needs) or "—",
            ", ".join(a["excluded_when"]) or "—",
            ", ".join(a["recipients"]) or "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Recipients", ""]
    for p in data["recipients"]:
        lines.append(
            f"- {p['legal_name']}, {p['postal_address']} ({p['country']}); contract {p['contract_ref']}"
        )
    if not data["recipients"]:
        lines.append("- (no partner registered)")
    lines += ["", "## Retention", ""]
    lines += [f"- {name.replace('_', ' ')}: {value or 'kept'}" for name, value in data["retention"].items()]
    lines += ["", "## Safeguards", ""]
    lines += [f"- {item}" for item in data["safeguards"]]
    return "\n".join(lines) + "\n"

"""``GET /v1/register``: the record of processing activities (Art. 30), generated from the policy."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.deps import PrivacyAdmin, ServicesDep, SessionDep
from api.schemas import problem_responses
from services.register import register, register_markdown

router = APIRouter(tags=["register"], responses=problem_responses(401, 403, 422))


@router.get(
    "/v1/register",
    responses={
        200: {"content": {"application/json": {}, "text/markdown": {}}, "description": "The register."}
    },
)
def processing_register(
    session: SessionDep,
    _: PrivacyAdmin,
    services: ServicesDep,
    format_: Annotated[Literal["json", "markdown"], Query(alias="format")] = "json",
) -> Any:
    """Purposes (Fideslang data uses), data categories, recipients, retention — as JSON or Markdown."""
    data = register(session, services.settings)
    if format_ == "markdown":
        return PlainTextResponse(register_markdown(data), media_type="text/markdown; charset=utf-8")
    return data

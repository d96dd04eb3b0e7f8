"""``/api/v1/programs``: list, create, change, activate, archive programs; see versions.

Admin-scoped. :data:`ROUTES` holds the routes as keyword arguments for
:class:`~loyalty_plugin.web.api.blueprint.Route`, so this module needs nothing from the
blueprint and the blueprint adds them with one line.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import ApiScope
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.schemas import api as s
from loyalty_plugin.schemas import programs as p
from loyalty_plugin.services.earning import programs as svc
from loyalty_plugin.services.earning.rule_engine import plugin_rule_kinds
from loyalty_plugin.web.api.auth import caller


def _kinds() -> list[Any]:
    pm = current_app.extensions["loyalty"].plugin_manager
    return plugin_rule_kinds(pm.hook) if pm is not None else []


def list_programs(query: dict[str, Any]) -> dict[str, Any]:
    """Every program of the merchant, with its newest version's settings."""
    merchant_id = caller().merchant(query.get("merchant_id"))
    return {
        "data": [svc.program_document(x) for x in svc.list_programs(get_session(), merchant_id)]
    }


def create_program(query: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Create a program (a draft unless ``status`` says otherwise)."""
    who = caller()
    program = svc.create_program(
        get_session(),
        merchant_id=who.merchant(query.get("merchant_id")),
        definition=args,
        now=utcnow(),
        actor=who.actor,
        extra_kinds=_kinds(),
    )
    return svc.program_document(program)


def get_program(query: dict[str, Any], key: str) -> dict[str, Any]:
    """One program with its newest version."""
    merchant_id = caller().merchant(query.get("merchant_id"))
    return svc.program_document(svc.get_program(get_session(), merchant_id, key))


def update_program(query: dict[str, Any], args: dict[str, Any], key: str) -> dict[str, Any]:
    """Change a program: in place for a draft, a new version from a date once active."""
    who = caller()
    merchant_id = who.merchant(query.get("merchant_id"))
    session = get_session()
    svc.update_program(
        session,
        merchant_id=merchant_id,
        key=key,
        changes=args,
        now=utcnow(),
        actor=who.actor,
        extra_kinds=_kinds(),
    )
    return svc.program_document(svc.get_program(session, merchant_id, key))


def activate_program(query: dict[str, Any], args: dict[str, Any], key: str) -> dict[str, Any]:
    """Make a draft earn from ``effective_from`` (default: now)."""
    program = svc.activate_program(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        key=key,
        now=utcnow(),
        effective_from=args.get("effective_from"),
        actor=caller().actor,
    )
    return svc.program_document(program)


def pause_program(query: dict[str, Any], key: str) -> dict[str, Any]:
    """Stop an active program from earning until it is activated again."""
    program = svc.pause_program(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        key=key,
        now=utcnow(),
        actor=caller().actor,
    )
    return svc.program_document(program)


def archive_program(query: dict[str, Any], key: str) -> dict[str, Any]:
    """Stop a program from earning, for good."""
    program = svc.archive_program(
        get_session(),
        merchant_id=caller().merchant(query.get("merchant_id")),
        key=key,
        now=utcnow(),
        actor=caller().actor,
    )
    return svc.program_document(program)


def program_versions(query: dict[str, Any], key: str) -> dict[str, Any]:
    """Every version of a program, oldest first."""
    merchant_id = caller().merchant(query.get("merchant_id"))
    program = svc.get_program(get_session(), merchant_id, key)
    return {"data": [svc.version_document(v) for v in program.versions]}


ADMIN = ApiScope.ADMIN
_KEY = "/programs/<key>"

#: The program routes, as keyword arguments of the API blueprint's ``Route``.
ROUTES: tuple[dict[str, Any], ...] = (
    {"method": "GET", "rule": "/programs", "view": list_programs, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "response": p.ProgramListSchema},
    {"method": "POST", "rule": "/programs", "view": create_program, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "body": p.ProgramBodySchema,
     "response": p.ProgramOutSchema, "status": 201, "idempotency": "optional",
     "errors": (404, 409)},
    {"method": "GET", "rule": _KEY, "view": get_program, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "response": p.ProgramOutSchema, "errors": (404,)},
    {"method": "PATCH", "rule": _KEY, "view": update_program, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "body": p.ProgramBodySchema,
     "response": p.ProgramOutSchema, "errors": (404, 409)},
    {"method": "POST", "rule": f"{_KEY}/activate", "view": activate_program, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "body": p.ActivateArgsSchema,
     "response": p.ProgramOutSchema, "idempotency": "optional", "errors": (404, 409)},
    {"method": "POST", "rule": f"{_KEY}/pause", "view": pause_program, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "response": p.ProgramOutSchema,
     "idempotency": "optional", "errors": (404, 409)},
    {"method": "POST", "rule": f"{_KEY}/archive", "view": archive_program, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "response": p.ProgramOutSchema,
     "idempotency": "optional", "errors": (404, 409)},
    {"method": "GET", "rule": f"{_KEY}/versions", "view": program_versions, "scope": ADMIN,
     "query": s.MerchantArgsSchema, "response": p.ProgramVersionListSchema, "errors": (404,)},
)  # fmt: skip

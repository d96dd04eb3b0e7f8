"""The rule editor takes a rule's conditions and criteria group (#18), and keeps them."""

from __future__ import annotations

import json

from sqlalchemy import select

from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Program, ProgramVersion
from tests.admin.test_programs_views import _create, _rule

WHEN = {"when": {"weekdays": ["tue"], "hours": [{"from": "14:00", "to": "17:00"}]}}


def _stored_rules(app) -> list[dict]:
    with app.app_context():
        session = get_session()
        program = session.scalars(select(Program).where(Program.key == "spring")).one()
        versions = session.scalars(
            select(ProgramVersion)
            .where(ProgramVersion.program_id == program.id)
            .order_by(ProgramVersion.number)
        ).all()
        return versions[-1].settings["rules"]


def test_conditions_and_group_are_saved_and_read_back(app, admin_client) -> None:
    """JSON conditions and a group go into the rule; editing the rule keeps them."""
    manager = admin_client(role="manager")
    _create(manager)
    form = {"kind": "per_amount", "id": "tue", "points": "2", "per": "10",
            "conditions": json.dumps(WHEN), "group": "base"}  # fmt: skip
    assert _rule(manager, "spring", form).status_code == 303
    assert _stored_rules(app)[0]["conditions"] == WHEN
    assert _stored_rules(app)[0]["group"] == "base"
    page = manager.get(manager.m("/programs/spring")).get_data(as_text=True)
    assert "2 points per €10 spent; only on tue, at 14:00-17:00" in page
    editor = manager.get(manager.m("/programs/spring/rules/tue")).get_data(as_text=True)
    assert "14:00" in editor and 'value="base"' in editor
    again = _rule(manager, "spring", form | {"original": "tue", "points": "3"})
    assert again.status_code == 303
    assert _stored_rules(app)[0]["conditions"] == WHEN


def test_bad_conditions_show_at_the_field_with_their_path(app, admin_client) -> None:
    """A wrong weekday is refused at the conditions field, naming where it is."""
    manager = admin_client(role="manager")
    _create(manager)
    bad = {"when": {"weekdays": ["tuesday"]}}
    form = {"kind": "per_amount", "id": "tue", "points": "2", "per": "10",
            "conditions": json.dumps(bad)}  # fmt: skip
    answer = _rule(manager, "spring", form)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="f-conditions-error"' in page
    assert "when.weekdays.0: must be one of" in page.lower()
    broken = _rule(manager, "spring", form | {"conditions": "{not json"})
    assert broken.status_code == 422
    assert 'id="f-conditions-error"' in broken.get_data(as_text=True)

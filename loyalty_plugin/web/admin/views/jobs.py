"""The Jobs screen: each scheduled job with its schedule, next run and last runs, and "run
now" for the signed-in merchant's share (owners). Managers read. Each action is one call of
``loyalty_plugin.jobs.overview``, the same ``/api/v1/jobs`` and ``loyalty jobs run NAME
--merchant M`` make.

Runs for every shop at once show their times and outcome only: their counts and errors are
about all shops, so an operator reads them (``loyalty jobs history``).
"""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from loyalty_plugin.domain.errors import InvalidOperation, NotFound
from loyalty_plugin.extensions import get_session
from loyalty_plugin.jobs.overview import job_statuses, run_for_merchant
from loyalty_plugin.models import StaffRole
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.audit import Actor
from loyalty_plugin.web.admin import access


def jobs(merchant_id: str) -> ResponseReturnValue:
    """Every job: what it does, when it runs next, its last runs for this shop."""
    statuses = job_statuses(
        current_app._get_current_object(), get_session(), merchant_id=merchant_id, now=utcnow()
    )
    get_session().rollback()
    return render_template("admin/operations/jobs.html", page_title="Jobs", Role=StaffRole,
                           jobs=statuses, actor_name=_actor_name)  # fmt: skip


def jobs_run(merchant_id: str, name: str) -> ResponseReturnValue:
    """Run job ``name`` now for this shop only (one ``run_for_merchant``), then show how it went."""
    actor = access.current().actor
    get_session().rollback()  # the run works in its own sessions; hold no transaction open
    try:
        outcome = run_for_merchant(
            current_app._get_current_object(),
            name,
            merchant_id=merchant_id,
            actor=actor,
            now=utcnow(),
        )
    except NotFound:
        abort(404)
    except InvalidOperation as error:
        access.flash(f"Not run: {error.message}.")
    else:
        if outcome.status == "succeeded":
            access.flash(
                f"{name} ran for this shop: {outcome.rows} done in {outcome.seconds:.1f} s."
            )
        elif outcome.status == "skipped":
            access.flash(f"{name} did not run: {outcome.detail}. Try again in a minute.")
        else:
            first = (outcome.detail or "").splitlines()[:1]
            access.flash(f"{name} failed: {first[0] if first else 'see the run below'}.")
    return redirect(url_for("admin.jobs", merchant_id=merchant_id) + f"#job-{name}", 303)


def _actor_name(label: str) -> str:
    """Who asked for a run, as people read it (``staff:12 Ana`` is Ana)."""
    return Actor.from_label(label).name

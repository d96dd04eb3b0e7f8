"""The Flask application: ``create_app()`` and the ``LoyaltyPlugin`` extension."""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Flask

from loyalty_plugin.config import int_setting, load_config
from loyalty_plugin.database import engine_options, prepare_engine
from loyalty_plugin.extensions import LoyaltyState, db


class LoyaltyPlugin:
    """The Flask extension: binds the database, blueprints and error pages to an app."""

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        if app is not None:
            self.init_app(app, **options)

    def init_app(self, app: Flask, *, url_prefix: str | None = None) -> None:
        """Mount the loyalty plugin on ``app`` under ``url_prefix`` (default ``/loyalty``)."""
        for key, value in load_config(app.instance_path, environ={}).items():
            app.config.setdefault(key, value)
        state = LoyaltyState(db=_bind_database(app), plugin_manager=_plugin_manager(app))
        app.extensions["loyalty"] = state
        app.before_request(_bind_request_session)
        from loyalty_plugin.web import i18n

        i18n.init_app(app)
        prefix = url_prefix if url_prefix is not None else app.config["LOYALTY_URL_PREFIX"]
        for blueprint in _blueprints():
            app.register_blueprint(blueprint, url_prefix=prefix + (blueprint.url_prefix or ""))
        from loyalty_plugin.web.api.blueprint import init_api

        init_api(app, url_prefix=prefix)
        from loyalty_plugin.web.admin.access import routing_error
        from loyalty_plugin.web.errors import register_error_handlers
        from loyalty_plugin.web.portal.views import routing_error as portal_routing_error

        pages = {prefix + "/admin": routing_error, prefix + "/portal": portal_routing_error}
        register_error_handlers(app, prefix, pages=pages)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The standalone service. ``config`` overrides everything else (tests pass theirs)."""
    instance_path = os.environ.get("LOYALTY_INSTANCE_PATH") or None
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    settings = load_config(app.instance_path, overrides=config)
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings["LOYALTY_SECRET_KEY"]
    LoyaltyPlugin(app)
    return app


def _bind_database(app: Flask) -> Any:
    """Use the host's Flask-SQLAlchemy if it has one, else bind ours to the loyalty URL."""
    if "sqlalchemy" in app.extensions:
        return app.extensions["sqlalchemy"]
    url = app.config["LOYALTY_DATABASE_URL"]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    timeout = int_setting(app.config, "LOYALTY_DATABASE_TIMEOUT_SECONDS")
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(url, timeout=timeout))
    db.init_app(app)
    with app.app_context():
        prepare_engine(db.engine)
    return db


def _plugin_manager(app: Flask) -> Any:
    from loyalty_plugin.config import bool_setting, list_setting
    from loyalty_plugin.plugins import make_plugin_manager

    return make_plugin_manager(
        modules=list_setting(app.config, "LOYALTY_PLUGINS"),
        entry_points=bool_setting(app.config, "LOYALTY_PLUGIN_ENTRY_POINTS"),
        trace=bool_setting(app.config, "LOYALTY_TRACE_HOOKS"),
    )


def _bind_request_session() -> None:
    """Every request's session sends domain events to the outboxes and, after commit, hooks;
    its audit rows carry the request's ``X-Request-Id`` and the client's address."""
    from flask import request

    from loyalty_plugin.extensions import get_session, loyalty_state
    from loyalty_plugin.plugins import bind_session
    from loyalty_plugin.services.audit import bind_request

    session = get_session()
    bind_session(session, loyalty_state().plugin_manager)
    request_id = request.headers.get("X-Request-Id", "")
    bind_request(
        session,
        request_id=request_id if request_id.isprintable() else None,
        address=request.remote_addr,
    )


def _blueprints() -> list[Blueprint]:
    from loyalty_plugin.web.admin.blueprint import blueprint as admin
    from loyalty_plugin.web.email.blueprint import blueprint as email
    from loyalty_plugin.web.health import blueprint as health
    from loyalty_plugin.web.metrics import blueprint as metrics
    from loyalty_plugin.web.portal.blueprint import blueprint as portal
    from loyalty_plugin.web.webhooks.blueprint import blueprint as webhooks

    return [health, metrics, webhooks, email, portal, admin]

"""Extension objects, created unbound and bound to an app in ``init_app``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import pluggy

#: The loyalty database when the app has no Flask-SQLAlchemy of its own.
db = SQLAlchemy(session_options={"expire_on_commit": False})


@dataclass
class LoyaltyState:
    """What the plugin keeps on ``app.extensions["loyalty"]``."""

    #: The Flask-SQLAlchemy instance whose session the plugin uses (ours or the host's).
    db: SQLAlchemy
    #: Extra state later features hang here (plugin manager, scheduler...).
    extras: dict[str, Any] = field(default_factory=dict)
    plugin_manager: pluggy.PluginManager | None = None


def loyalty_state(app: Flask | None = None) -> LoyaltyState:
    """The plugin's state on ``app`` (default: the current app)."""
    return (app or current_app).extensions["loyalty"]


def get_session() -> Session:
    """The request- or app-context session of the loyalty database."""
    return loyalty_state().db.session

"""loyalty_plugin: a customer-loyalty and memberships engine for CRMs.

``create_app()`` builds the standalone service; ``LoyaltyPlugin().init_app(app)`` mounts the
same blueprints inside a host's own Flask app. Both are imported lazily, so that the domain
core, the services and the jobs can be used without loading Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loyalty_plugin.hookspecs import hookimpl

__version__ = "0.1.0"

if TYPE_CHECKING:
    from loyalty_plugin.app import LoyaltyPlugin, create_app

__all__ = ["LoyaltyPlugin", "__version__", "create_app", "hookimpl"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "LoyaltyPlugin"):
        from loyalty_plugin import app

        return getattr(app, name)
    raise AttributeError(f"module 'loyalty_plugin' has no attribute {name!r}")

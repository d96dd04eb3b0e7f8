"""The plugin manager: built-in plugins, entry points, configured modules, and hook calls.

Each app builds its own manager (``app.extensions["loyalty"].plugin_manager``), so tests get
a clean one and nothing needs unregistering. Plugins are loaded in this order: the built-in
:data:`DEFAULT_PLUGINS`, third-party packages declaring an entry point in the
``loyalty_plugin`` group, then the modules named in ``LOYALTY_PLUGINS``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable
from typing import Any

import pluggy
from sqlalchemy.orm import Session

from loyalty_plugin import hookspecs
from loyalty_plugin.domain.events import DomainEvent
from loyalty_plugin.services.events import attach_sink
from loyalty_plugin.services.messaging.notifications import EMAIL_SINK
from loyalty_plugin.services.messaging.outbox import OutboxSink

log = logging.getLogger(__name__)

#: The project name pluggy knows the hooks by, and the entry-point group of plugins.
PROJECT = "loyalty_plugin"
#: Built-in behaviour, registered through the same hooks as any plugin (none at present:
#: earning is the merchant's programs, see ``docs/programs.md``).
DEFAULT_PLUGINS: tuple[str, ...] = ()


def make_plugin_manager(
    *, modules: Iterable[str] = (), entry_points: bool = True, trace: bool = False
) -> pluggy.PluginManager:
    """A manager with the hookspecs and every plugin loaded and checked.

    :param modules: extra plugin modules to import and register (``LOYALTY_PLUGINS``).
    :param entry_points: load the ``loyalty_plugin`` entry-point group.
    :param trace: log every hook call at DEBUG level (``LOYALTY_TRACE_HOOKS``).
    :raises pluggy.PluginValidationError: a plugin implements a hook that does not exist.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if entry_points:
        pm.load_setuptools_entrypoints(PROJECT)
    for name in modules:
        if pm.get_plugin(name) is None:
            pm.register(importlib.import_module(name), name=name)
    pm.check_pending()
    if trace:
        pm.trace.root.setwriter(log.debug)
        pm.enable_tracing()
    return pm


def describe_plugins(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Every loaded plugin: its name, where it came from, its version and its hooks."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    described = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda item: str(item[0])):
        if plugin is None:
            continue
        dist = dists.get(id(plugin))
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        described.append(
            {
                "name": name,
                "source": "entry point" if dist else _source(name),
                "version": dist.version if dist else None,
                "hooks": hooks,
            }
        )
    return described


def notify(pm: pluggy.PluginManager, event: DomainEvent) -> None:
    """Call the notification hook named after ``event`` (``points.earned`` -> ``points_earned``).

    Each implementation is called on its own: one that raises is logged and the others still
    run. This is called after commit; nothing here can undo the change.
    """
    caller = getattr(pm.hook, event.type.replace(".", "_"), None)
    if caller is None:
        return
    for impl in reversed(caller.get_hookimpls()):
        try:
            impl.function(*[{"event": event}[name] for name in impl.argnames])
        except Exception:
            log.exception("plugin %s failed in %s", impl.plugin_name, caller.name)


class HookSink:
    """Delivers domain events to the notification hooks after commit."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def record(self, session: Session, event: DomainEvent) -> None:
        """Nothing inside the transaction: hooks never see a change before it commits."""

    def deliver(self, event: DomainEvent) -> None:
        notify(self.pm, event)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HookSink) and other.pm is self.pm

    def __hash__(self) -> int:
        return id(self.pm)


_OUTBOX = OutboxSink()


def bind_session(session: Session, pm: pluggy.PluginManager) -> Session:
    """Route the session's domain events to the webhook and e-mail outboxes and, after
    commit, to the hooks."""
    attach_sink(session, _OUTBOX)
    attach_sink(session, HookSink(pm))
    attach_sink(session, EMAIL_SINK)
    return session


def _source(name: str) -> str:
    return "built-in" if name in DEFAULT_PLUGINS else "LOYALTY_PLUGINS"

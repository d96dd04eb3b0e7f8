"""Publishing domain events: recorded inside the transaction, delivered after commit.

Services call :func:`publish`; they do not know who listens. Whoever opens the session (the
web app, a job, the CLI) attaches *sinks* with :func:`attach_sink`: a sink's ``record`` runs
inside the transaction (so an outbox row commits or rolls back with the change) and its
``deliver`` runs after commit (so a hook never sees a change that was rolled back).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from loyalty_plugin.domain.events import DomainEvent
from loyalty_plugin.services.transaction import after_commit

_SINKS = "loyalty_event_sinks"


class EventSink(Protocol):
    """Something that wants to hear about domain events."""

    def record(self, session: Session, event: DomainEvent) -> None:
        """Called inside the transaction that caused ``event`` (may write rows)."""

    def deliver(self, event: DomainEvent) -> None:
        """Called after that transaction committed (must not write to ``session``)."""


def attach_sink(session: Session, sink: EventSink) -> None:
    """Route events published on ``session`` to ``sink`` (once per sink)."""
    sinks = session.info.setdefault(_SINKS, [])
    if sink not in sinks:
        sinks.append(sink)


def publish(session: Session, event: DomainEvent) -> None:
    """Record ``event`` with every attached sink now and deliver it after commit."""
    for sink in session.info.get(_SINKS, []):
        sink.record(session, event)
        after_commit(session, lambda sink=sink: sink.deliver(event))

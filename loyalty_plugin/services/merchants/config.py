"""A merchant's whole configuration as one document: export, import (all or nothing), diff.

The document (:mod:`loyalty_plugin.schemas.config`) gathers what other services keep:
spending settings (:mod:`~loyalty_plugin.services.spending.settings`), the expiry policy and its
reminders (:mod:`~loyalty_plugin.services.ledger.expiry`), e-mail switches and edited templates
(:mod:`~loyalty_plugin.services.messaging.notifications`,
:mod:`~loyalty_plugin.services.messaging.email_templates`), programs with their rules and levels
(:mod:`~loyalty_plugin.services.earning.programs`) and the rewards catalogue
(:mod:`~loyalty_plugin.services.spending.rewards`). Each section is applied through its service, in
the caller's transaction. What an import changed is the difference between the export
before and after it, so a dry run (an import rolled back) shows exactly what
:func:`import_config` would do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from loyalty_plugin.domain.coupons import CouponValue
from loyalty_plugin.domain.errors import LoyaltyError
from loyalty_plugin.domain.notifications import Message
from loyalty_plugin.domain.programs import ProgramStatus
from loyalty_plugin.domain.rules import Rule
from loyalty_plugin.email.render import TemplateRejected
from loyalty_plugin.email.templates import TEMPLATES
from loyalty_plugin.models import Reward
from loyalty_plugin.schemas.api import MoneyField
from loyalty_plugin.schemas.config import (
    CONFIG_FORMAT,
    ConfigSettingsSchema,
    InvalidConfig,
    load_config,
)
from loyalty_plugin.schemas.programs import FILE_FORMAT, InvalidProgram
from loyalty_plugin.services.audit import Actor, as_actor, record_change
from loyalty_plugin.services.earning import bonus_campaigns, programs
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.ledger.expiry import expiry_policy, set_expiry_policy
from loyalty_plugin.services.messaging import email_templates
from loyalty_plugin.services.messaging.notifications import (
    notification_prefs,
    set_notification_prefs,
)
from loyalty_plugin.services.spending import rewards, settings

#: Money and percentages are written to the cent, or finer when they need it.
CENT = Decimal("0.01")
#: Lists whose items are matched by one of these fields, in this order, when diffing.
_ITEM_KEYS = ("key", "id", "name")


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: its path in the document, the value before and after."""

    path: str
    before: Any
    after: Any
    #: ``added``, ``removed`` or ``changed``.
    kind: str = "changed"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "before": self.before, "after": self.after}


# -- export ------------------------------------------------------------------------------


def export_config(session: Session, *, merchant_id: str) -> dict[str, Any]:
    """The merchant's whole configuration as a document ``import_config`` takes back."""
    get_merchant(session, merchant_id)
    policy = expiry_policy(session, merchant_id)
    prefs = notification_prefs(session, merchant_id)
    program_file = programs.export_programs(session, merchant_id=merchant_id)
    return {
        "format": CONFIG_FORMAT,
        "merchant": merchant_id,
        "settings": _settings_document(settings.merchant_settings(session, merchant_id)),
        "expiry": {
            "kind": policy.kind.value,
            "days": policy.days,
            "extra_months": policy.extra_months,
            "fixed_date": policy.fixed_date.isoformat() if policy.fixed_date else None,
            "inactivity_months": policy.inactivity_months,
        },
        "reminders": {
            "points_expiring_days": sorted(policy.reminder_days, reverse=True),
            "coupon_expiring_days": prefs.coupon_reminder_days,
        },
        "emails": {
            "switches": {m.value: prefs.enabled(m) for m in Message},
            "service_needs_consent": prefs.service_needs_consent,
            "locale": prefs.locale,
            "reply_to": prefs.reply_to,
            "templates": dict(_edited_templates(session, merchant_id)),
        },
        "programs": program_file["programs"],
        "rewards": [_reward_document(r) for r in _rewards_by_name(session, merchant_id).values()],
    } | {k: v for k, v in program_file.items() if k == "bonus_campaigns"}


def decimal_text(value: Any) -> str:
    """A decimal as the document writes it on every database: cents kept, other trailing
    zeros dropped (PostgreSQL's ``2.5000`` and SQLite's ``2.5`` are both ``2.50``)."""
    number = Decimal(str(value))
    cents = number.quantize(CENT)
    return format(cents if cents == number else number.normalize(), "f")


def _settings_document(row: Any) -> dict[str, Any]:
    document = ConfigSettingsSchema().dump(row)
    for name, field in ConfigSettingsSchema().fields.items():
        if isinstance(field, MoneyField) and document.get(name) is not None:
            document[name] = decimal_text(document[name])
    for package in document.get("coupon_packages") or ():
        package["amount"] = decimal_text(package["amount"])
    return document


def _edited_templates(session: Session, merchant_id: str) -> Iterator[tuple[str, dict[str, str]]]:
    for name in sorted(TEMPLATES):
        sources, edited = email_templates.template_sources(
            session, merchant_id=merchant_id, name=name
        )
        if edited:
            yield name, dataclasses.asdict(sources)


def _reward_document(reward: Reward) -> dict[str, Any]:
    value = reward.value
    return {
        "name": reward.name,
        "description": reward.description,
        "points": reward.points,
        "kind": value.kind.value,
        "amount": None if value.amount is None else decimal_text(value.amount),
        "currency": value.currency,
        "percent": None if value.percent is None else decimal_text(value.percent),
        "product_ids": list(value.product_ids),
        "category_ids": list(value.category_ids),
        "stock": reward.stock,
        "per_customer_limit": reward.per_customer_limit,
        "coupon_valid_days": reward.coupon_valid_days,
        "active": reward.active,
        "active_from": _iso(reward.active_from),
        "active_until": _iso(reward.active_until),
    }


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _rewards_by_name(session: Session, merchant_id: str) -> dict[str, Reward]:
    """One reward per name, the one a document's name means: on offer first, then newest."""
    found: dict[str, Reward] = {}
    for reward in sorted(_all_rewards(session, merchant_id), key=lambda r: (r.active, r.id)):
        found[reward.name] = reward
    return dict(sorted(found.items(), key=lambda item: item[1].id))


def _all_rewards(session: Session, merchant_id: str) -> Iterator[Reward]:
    after_id = None
    while page := rewards.list_rewards(
        session, merchant_id=merchant_id, limit=500, after_id=after_id
    ):
        yield from page
        after_id = page[-1].id


# -- import and diff ---------------------------------------------------------------------


def import_config(
    session: Session,
    *,
    merchant_id: str,
    document: Any,
    now: datetime,
    actor: Actor | str,
    extra_kinds: Iterable[type[Rule]] = (),
    dry_run: bool = False,
) -> list[Change]:
    """Make the merchant's configuration match ``document``; returns what changed.

    The whole document is validated first (:class:`InvalidConfig` lists every problem by
    its path); then each section present is applied through its service. A section left
    out is left as it is. Runs in the caller's transaction: on any error the caller rolls
    back, and nothing has changed. With ``dry_run`` the import runs in a savepoint that is
    rolled back: the answer is what it would change, and nothing is kept.

    Each section's service audits its own change; the import as a whole is audited as
    ``config.imported``, with every changed path before and after.
    """
    actor = as_actor(actor)
    savepoint = session.begin_nested() if dry_run else None
    try:
        merchant = get_merchant(session, merchant_id)
        loaded = load_config(document, currency=merchant.currency, extra_kinds=extra_kinds)
        before = export_config(session, merchant_id=merchant_id)
        context = _Apply(session, merchant_id, now=now, actor=actor, extra_kinds=extra_kinds)
        context.settings(loaded.get("settings"))
        context.expiry(loaded.get("expiry"), loaded.get("reminders"))
        context.emails(loaded.get("emails"), loaded.get("reminders"))
        context.programs(document.get("programs"))
        context.bonus_campaigns(document.get("bonus_campaigns"))
        context.rewards(loaded.get("rewards"))
        session.flush()
        # Reload what was written, so values compare as stored ("1.5" reads back as "1.50").
        session.expire_all()
        changes = diff_documents(before, export_config(session, merchant_id=merchant_id))
        _record(session, merchant_id, changes, actor, now=now)
        return changes
    finally:
        if savepoint is not None:
            savepoint.rollback()


def _record(
    session: Session, merchant_id: str, changes: list[Change], actor: Actor, *, now: datetime
) -> None:
    """Audit an import by the paths it changed (an import that changed nothing: no row)."""
    if not changes:
        return
    record_change(
        session,
        merchant_id=merchant_id,
        actor=actor,
        action="config.imported",
        target_type="config",
        target_id=merchant_id,
        before={c.path: c.before for c in changes},
        after={c.path: c.after for c in changes},
        now=now,
    )


class _Apply:
    """Applies the sections of a loaded document, each through its own service."""

    def __init__(
        self,
        session: Session,
        merchant_id: str,
        *,
        now: datetime,
        actor: Actor,
        extra_kinds: Iterable[type[Rule]],
    ) -> None:
        self.session, self.merchant_id = session, merchant_id
        self.now, self.actor, self.extra_kinds = now, actor, tuple(extra_kinds)

    def settings(self, section: dict[str, Any] | None) -> None:
        if section is None:
            return
        with _at("settings"):
            settings.update_settings(
                self.session,
                merchant_id=self.merchant_id,
                changes=settings.default_settings() | section,
                now=self.now,
                actor=self.actor,
            )

    def expiry(self, section: dict[str, Any] | None, reminders: dict[str, Any] | None) -> None:
        if section is None and reminders is None:
            return
        current = expiry_policy(self.session, self.merchant_id)
        with _at("expiry"):
            policy = dataclasses.replace(current, **(section or {}))
        if reminders is not None:
            with _at("reminders", {"reminder_days": "points_expiring_days"}):
                policy = dataclasses.replace(
                    policy, reminder_days=tuple(reminders["points_expiring_days"])
                )
        if policy != current:
            set_expiry_policy(
                self.session,
                merchant_id=self.merchant_id,
                policy=policy,
                now=self.now,
                actor=self.actor,
            )

    def emails(self, section: dict[str, Any] | None, reminders: dict[str, Any] | None) -> None:
        if section is None and reminders is None:
            return
        current = notification_prefs(self.session, self.merchant_id)
        changes: dict[str, Any] = {}
        if section is not None:
            switches = section["switches"]
            changes = {
                "disabled": frozenset(m for m in Message if not switches.get(m.value, True)),
                "service_needs_consent": section["service_needs_consent"],
                "locale": section["locale"],
                "reply_to": section["reply_to"],
            }
        if reminders is not None:
            changes["coupon_reminder_days"] = reminders["coupon_expiring_days"]
        prefs = dataclasses.replace(current, **changes)
        if prefs != current:
            set_notification_prefs(
                self.session,
                merchant_id=self.merchant_id,
                prefs=prefs,
                now=self.now,
                actor=self.actor,
            )
        if section is not None and "templates" in section:
            self.templates(section["templates"])

    def templates(self, edits: dict[str, dict[str, str]]) -> None:
        """Save each edit listed (all checked, every problem reported); reset the others."""
        problems: dict[str, list[str]] = {}
        for name in sorted(TEMPLATES):
            if name not in edits:
                email_templates.reset_template(
                    self.session,
                    merchant_id=self.merchant_id,
                    name=name,
                    now=self.now,
                    actor=self.actor,
                )
                continue
            try:
                self._save_template(name, edits[name])
            except TemplateRejected as error:
                for problem in error.problems:
                    path = f"emails.templates.{name}.{problem.part}"
                    problems.setdefault(path, []).append(str(problem))
        if problems:
            raise InvalidConfig(problems)

    def _save_template(self, name: str, edit: dict[str, str]) -> None:
        current, edited = email_templates.template_sources(
            self.session, merchant_id=self.merchant_id, name=name
        )
        if edited and dataclasses.asdict(current) == edit:
            return
        email_templates.save_template(
            self.session,
            merchant_id=self.merchant_id,
            name=name,
            subject=edit["subject"],
            body_text=edit["body_text"],
            body_html=edit["body_html"],
            now=self.now,
            actor=self.actor.label,
        )

    def programs(self, items: list[Any] | None) -> None:
        """Create or change each program by key (as `loyalty programs import`); archive
        those the document leaves out (a program is never deleted: its history stays)."""
        if items is None:
            return
        self._nothing_for_archived(items)
        try:
            programs.import_programs(
                self.session,
                merchant_id=self.merchant_id,
                document={"format": FILE_FORMAT, "programs": items},
                now=self.now,
                actor=self.actor,
                extra_kinds=self.extra_kinds,
            )
        except InvalidProgram as error:
            raise InvalidConfig(error.fields) from None
        except LoyaltyError as error:
            raise InvalidConfig({"programs": [error.message]}) from None
        listed = {item.get("key") for item in items if isinstance(item, dict)}
        for program in programs.list_programs(self.session, self.merchant_id):
            if program.key not in listed and program.status != ProgramStatus.ARCHIVED:
                programs.archive_program(
                    self.session,
                    merchant_id=self.merchant_id,
                    key=program.key,
                    now=self.now,
                    actor=self.actor,
                )

    def bonus_campaigns(self, items: list[Any] | None) -> None:
        """Create or change each bonus campaign by key; those left out are left alone."""
        if items is None:
            return
        try:
            bonus_campaigns.import_bonus_campaigns(
                self.session, merchant_id=self.merchant_id, items=items, now=self.now,
                actor=self.actor,
            )  # fmt: skip
        except InvalidProgram as error:
            raise InvalidConfig(error.fields) from None
        except LoyaltyError as error:
            raise InvalidConfig({"bonus_campaigns": [error.message]}) from None

    def _nothing_for_archived(self, items: list[Any]) -> None:
        """Refuse bringing back a program archived here (an import would skip it silently)."""
        archived = {
            p.key
            for p in programs.list_programs(
                self.session, self.merchant_id, status=ProgramStatus.ARCHIVED
            )
        }
        problems = {
            f"programs.{index}.status": [
                f"program {item['key']!r} is archived for this merchant and cannot come back; "
                "give it a new key, or mark it archived here"
            ]
            for index, item in enumerate(items)
            if isinstance(item, dict)
            and item.get("key") in archived
            and item.get("status", ProgramStatus.DRAFT.value) != ProgramStatus.ARCHIVED.value
        }
        if problems:
            raise InvalidConfig(problems)

    def rewards(self, items: list[dict[str, Any]] | None) -> None:
        """Create or change each reward by name; withdraw those the document leaves out."""
        if items is None:
            return
        existing = _rewards_by_name(self.session, self.merchant_id)
        for index, item in enumerate(items):
            with _at(f"rewards.{index}"):
                self._reward(item, existing.pop(item["name"], None), index)
        for reward in existing.values():
            if reward.active:
                self._change_reward(reward, {"active": False})

    def _reward(self, item: dict[str, Any], reward: Reward | None, index: int) -> None:
        value = CouponValue(
            kind=item["kind"],
            amount=item.get("amount"),
            currency=item.get("currency"),
            percent=item.get("percent"),
            product_ids=tuple(item.get("product_ids", ())),
            category_ids=tuple(item.get("category_ids", ())),
        )
        if reward is None:
            reward = rewards.create_reward(
                self.session,
                merchant_id=self.merchant_id,
                name=item["name"],
                points=item["points"],
                value=value,
                now=self.now,
                actor=self.actor,
                description=item.get("description"),
                stock=item.get("stock"),
                per_customer_limit=item.get("per_customer_limit"),
                coupon_valid_days=item.get("coupon_valid_days"),
                active_from=item.get("active_from"),
                active_until=item.get("active_until"),
            )
        elif reward.value != value:
            raise InvalidConfig(
                {
                    f"rewards.{index}.kind": [
                        f"reward {reward.name!r} gives another value here; a reward's value "
                        "cannot change: give the new one its own name (the old one is then "
                        "withdrawn)"
                    ]
                }
            )
        changes = {
            key: item[key]
            for key in sorted(rewards.EDITABLE - {"name"})
            if key in item and getattr(reward, key) != item[key]
        }
        if changes:
            self._change_reward(reward, changes)

    def _change_reward(self, reward: Reward, changes: dict[str, Any]) -> None:
        rewards.update_reward(
            self.session,
            merchant_id=self.merchant_id,
            reward_id=reward.id,
            changes=changes,
            now=self.now,
            actor=self.actor,
        )


@contextmanager
def _at(section: str, renames: dict[str, str] | None = None) -> Iterator[None]:
    """Turn a service's :class:`LoyaltyError` into :class:`InvalidConfig` at ``section``."""
    try:
        yield
    except InvalidConfig:
        raise
    except LoyaltyError as error:
        field = (renames or {}).get(error.field or "", error.field)
        path = section if field in (None, "settings") else f"{section}.{field}"
        raise InvalidConfig({path: [error.message]}) from None


# -- differences -------------------------------------------------------------------------


def diff_documents(before: Any, after: Any, path: str = "") -> list[Change]:
    """Every difference between two documents, by path; list items are matched by their
    ``key``, ``id`` or ``name`` when each has one (``programs[main].rules[base].points``)."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            change
            for name in _ordered_union(before, after)
            for change in _diff_member(before, after, name, _join(path, name))
        ]
    if isinstance(before, list) and isinstance(after, list):
        key = _item_key(before, after)
        if key is not None:
            old = {str(item[key]): item for item in before}
            new = {str(item[key]): item for item in after}
            return [
                change
                for name in _ordered_union(old, new)
                for change in _diff_member(old, new, name, f"{path}[{name}]")
            ]
        if len(before) == len(after):
            return [
                change
                for index, (old, new) in enumerate(zip(before, after, strict=True))
                for change in diff_documents(old, new, f"{path}[{index}]")
            ]
    return [Change(path or ".", before, after)]


def _diff_member(
    before: dict[str, Any], after: dict[str, Any], name: str, path: str
) -> list[Change]:
    if name not in before:
        return [Change(path, None, after[name], "added")]
    if name not in after:
        return [Change(path, before[name], None, "removed")]
    return diff_documents(before[name], after[name], path)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _ordered_union(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return list(before) + [name for name in after if name not in before]


def _item_key(before: list[Any], after: list[Any]) -> str | None:
    items = before + after
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in _ITEM_KEYS:
        for side in (before, after):
            values = [item.get(key) for item in side]
            if None in values or len(set(map(str, values))) != len(values):
                break
        else:
            return key
    return None

"""Bonus campaigns (#18): create, change, end, list; and what they add to an invoice's earning.

Every action is one function here, which the API, the admin screen and the program file
call. Not coupon campaigns (:mod:`loyalty_plugin.services.spending.campaigns`).

**Budgets.** A campaign's ``given`` counter is its budget: the campaigns that apply to an
invoice are locked (``SELECT ... FOR UPDATE``, in id order so two invoices never wait on
each other in a circle), each is granted what it wants or **the rest of its budget** (the
tighter of the total and the per-customer one), and the counter grows by exactly that, in
the earning's transaction. So ``given`` never passes ``budget``, however many invoices race,
and a rolled-back earning gives its points back to the budget. The per-customer budget is
counted from :class:`~loyalty_plugin.models.BonusCampaignGrant` rows, written while the
customer's account is locked by the earning. The budget is charged once per invoice, when
the invoice is first evaluated, for the whole bonus; **refunds and cancellations do not give
budget back** (the points they reverse are reversed like any others, the budget stays spent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from loyalty_plugin.domain.bonus_campaigns import (
    BonusCampaignDefinition,
    Wanted,
    campaign_award,
    campaign_conditions,
    explanation,
    grant,
    wanted_points,
)
from loyalty_plugin.domain.errors import InvalidOperation, NotFound
from loyalty_plugin.domain.programs import ProgramEarning
from loyalty_plugin.domain.rules import CategoryTree, CustomerView, InvoiceView, LineView
from loyalty_plugin.domain.rules.conditions import ConditionContext, MerchantFacts
from loyalty_plugin.domain.rules.index import LineLookup, condition_keys, invoice_keys
from loyalty_plugin.models import (
    BonusCampaign,
    BonusCampaignGrant,
    Merchant,
    MerchantSettings,
    Program,
)
from loyalty_plugin.schemas.bonus_campaigns import (
    InvalidBonusCampaign,
    conditions_json,
    load_bonus_campaign,
)
from loyalty_plugin.schemas.programs import to_json
from loyalty_plugin.services.audit import Actor, as_actor, jsonable, record_change
from loyalty_plugin.services.ledger.accounts import get_merchant
from loyalty_plugin.services.settings_cache import cached, can_cache

#: The fields of a campaign row an import or update sets (besides ``conditions``).
_FIELDS = (
    "name", "starts_at", "ends_at", "multiplier", "points", "budget", "budget_per_customer",
    "priority",
)  # fmt: skip


# -- managing campaigns -------------------------------------------------------------------


def campaign_document(campaign: BonusCampaign, *, now: datetime | None = None) -> dict[str, Any]:
    """A campaign as the API, the program file and the admin screen show it."""
    remaining = None if campaign.budget is None else max(0, campaign.budget - campaign.given)
    return {
        "key": campaign.key,
        "name": campaign.name,
        "program": campaign.program_key,
        "conditions": campaign.conditions,
        "starts_at": campaign.starts_at.isoformat(),
        "ends_at": campaign.ends_at.isoformat(),
        "multiplier": None if campaign.multiplier is None else _plain(campaign.multiplier),
        "points": campaign.points,
        "budget": campaign.budget,
        "budget_per_customer": campaign.budget_per_customer,
        "priority": campaign.priority,
        "given": campaign.given,
        "remaining": remaining,
        "status": campaign_status(campaign, now=now),
        "ended_at": None if campaign.ended_at is None else campaign.ended_at.isoformat(),
    }


def definition_document(campaign: BonusCampaign) -> dict[str, Any]:
    """The campaign as written in the program file (no counters, no state)."""
    shown = campaign_document(campaign)
    return {k: v for k, v in shown.items() if k not in ("given", "remaining", "status", "ended_at")}


def campaign_status(campaign: BonusCampaign, *, now: datetime | None = None) -> str:
    """``scheduled``, ``running``, ``exhausted`` (its budget is spent) or ``ended``."""
    moment = now or datetime.now(campaign.starts_at.tzinfo)
    if campaign.ended_at is not None or moment >= campaign.ends_at:
        return "ended"
    if campaign.budget is not None and campaign.given >= campaign.budget:
        return "exhausted"
    return "scheduled" if moment < campaign.starts_at else "running"


def list_bonus_campaigns(session: Session, merchant_id: str) -> list[BonusCampaign]:
    """The merchant's campaigns, latest start first."""
    return list(
        session.scalars(
            select(BonusCampaign)
            .where(BonusCampaign.merchant_id == merchant_id)
            .order_by(BonusCampaign.starts_at.desc(), BonusCampaign.key)
        )
    )


def get_bonus_campaign(session: Session, merchant_id: str, key: str) -> BonusCampaign:
    """The merchant's campaign ``key``, or :class:`NotFound`."""
    found = _find(session, merchant_id, key)
    if found is None:
        raise NotFound(f"bonus campaign {key!r} does not exist", field="key")
    return found


def create_bonus_campaign(
    session: Session,
    *,
    merchant_id: str,
    definition: Any,
    now: datetime,
    actor: Actor | str,
    prefix: str = "",
) -> BonusCampaign:
    """Create a campaign from a definition validated by :func:`load_bonus_campaign`."""
    get_merchant(session, merchant_id)
    loaded = load_bonus_campaign(definition, prefix=prefix)
    _check_program(session, merchant_id, loaded["program"], prefix)
    if _find(session, merchant_id, loaded["key"]) is not None:
        raise InvalidOperation(
            f"bonus campaign {loaded['key']!r} already exists", field=f"{prefix}key"
        )
    campaign = BonusCampaign(
        merchant_id=merchant_id, key=loaded["key"], given=0, created_at=now, updated_at=now
    )
    _apply(campaign, loaded)
    session.add(campaign)
    session.flush()
    _after_change(session, campaign, as_actor(actor), "bonus_campaign.created", None, now=now)
    return campaign


def update_bonus_campaign(
    session: Session,
    *,
    merchant_id: str,
    key: str,
    changes: Any,
    now: datetime,
    actor: Actor | str,
    prefix: str = "",
) -> BonusCampaign:
    """Change a campaign not ended yet; fields left out keep their value. A budget is never
    set below what the campaign gave already."""
    campaign = _locked(session, merchant_id, key)
    if campaign.ended_at is not None:
        raise InvalidOperation(f"bonus campaign {key!r} has ended", field=f"{prefix}key")
    before = jsonable(campaign_document(campaign, now=now))
    loaded = load_bonus_campaign(changes, current=definition_document(campaign), prefix=prefix)
    if loaded["program"] != campaign.program_key:
        _check_program(session, merchant_id, loaded["program"], prefix)
    if loaded["budget"] is not None and loaded["budget"] < campaign.given:
        raise InvalidOperation(
            f"the campaign gave {campaign.given} points already: the budget cannot be less",
            field=f"{prefix}budget",
        )
    _apply(campaign, loaded)
    if before != jsonable(campaign_document(campaign, now=now)):
        campaign.updated_at = now
    session.flush()
    _after_change(session, campaign, as_actor(actor), "bonus_campaign.updated", before, now=now)
    return campaign


def end_bonus_campaign(
    session: Session, *, merchant_id: str, key: str, now: datetime, actor: Actor | str
) -> BonusCampaign:
    """End a campaign now: invoices paid from now on get nothing from it."""
    campaign = _locked(session, merchant_id, key)
    if campaign.ended_at is not None:
        raise InvalidOperation(f"bonus campaign {key!r} has ended already", field="key")
    before = jsonable(campaign_document(campaign, now=now))
    campaign.ended_at = now
    campaign.ends_at = min(campaign.ends_at, now)
    campaign.updated_at = now
    session.flush()
    _after_change(session, campaign, as_actor(actor), "bonus_campaign.ended", before, now=now)
    return campaign


def import_bonus_campaigns(
    session: Session,
    *,
    merchant_id: str,
    items: Sequence[Any],
    now: datetime,
    actor: Actor | str,
    prefix: str = "bonus_campaigns.",
) -> dict[str, list[str]]:
    """Make the campaigns of a program file exist as written, by key (campaigns left out
    are left alone; an ended one is not changed). Importing again changes nothing."""
    report: dict[str, list[str]] = {"created": [], "changed": [], "unchanged": []}
    for index, item in enumerate(items):
        at = f"{prefix}{index}."
        key = item.get("key") if isinstance(item, dict) else None
        found = _find(session, merchant_id, key) if isinstance(key, str) else None
        if found is None:
            create_bonus_campaign(
                session, merchant_id=merchant_id, definition=item, now=now, actor=actor, prefix=at
            )
            report["created"].append(str(key))
            continue
        loaded = load_bonus_campaign(item, prefix=at)
        if _comparable(loaded) == _comparable(load_bonus_campaign(definition_document(found))):
            report["unchanged"].append(found.key)
            continue
        update_bonus_campaign(
            session, merchant_id=merchant_id, key=found.key, changes=item, now=now,
            actor=actor, prefix=at,
        )  # fmt: skip
        report["changed"].append(found.key)
    return report


def _plain(value: Decimal) -> str:
    """A stored decimal without the trailing zeros NUMERIC gives it (``3.0000`` is ``3``)."""
    return format(value.normalize(), "f")


def _comparable(loaded: dict[str, Any]) -> Any:
    """A loaded campaign as JSON with instants in UTC and decimals plain (an unchanged
    campaign compares equal whatever offset or trailing zeros the file wrote)."""
    shown = dict(loaded)
    for name in ("starts_at", "ends_at"):
        shown[name] = shown[name].astimezone(UTC)
    if shown.get("multiplier") is not None:
        shown["multiplier"] = _plain(shown["multiplier"])
    return to_json(shown | {"conditions": conditions_json(loaded)})


def _find(session: Session, merchant_id: str, key: str) -> BonusCampaign | None:
    return session.scalar(
        select(BonusCampaign).where(
            BonusCampaign.merchant_id == merchant_id, BonusCampaign.key == key
        )
    )


def _locked(session: Session, merchant_id: str, key: str) -> BonusCampaign:
    campaign = get_bonus_campaign(session, merchant_id, key)
    session.refresh(campaign, with_for_update=True)
    return campaign


def _check_program(session: Session, merchant_id: str, key: str | None, prefix: str) -> None:
    """Refuse a campaign naming a program the merchant does not have (it would ride on none)."""
    if key is None:
        return
    known = session.scalar(
        select(Program.id).where(Program.merchant_id == merchant_id, Program.key == key)
    )
    if known is None:
        raise InvalidBonusCampaign({"program": [f"no program {key!r}"]}, prefix=prefix)


def _apply(campaign: BonusCampaign, loaded: dict[str, Any]) -> None:
    for name in _FIELDS:
        setattr(campaign, name, loaded[name])
    campaign.program_key = loaded["program"]
    campaign.conditions = conditions_json(loaded)


def _after_change(
    session: Session,
    campaign: BonusCampaign,
    actor: Actor,
    action: str,
    before: dict[str, Any] | None,
    *,
    now: datetime,
) -> None:
    """Audit the change and keep the merchant's ``bonus_campaigns_until`` true."""
    after = jsonable(campaign_document(campaign, now=now))
    merchant = session.get(Merchant, campaign.merchant_id)
    assert merchant is not None  # noqa: S101 - foreign key
    merchant.bonus_campaigns_until = session.scalar(
        select(func.max(BonusCampaign.ends_at)).where(
            BonusCampaign.merchant_id == campaign.merchant_id, BonusCampaign.ended_at.is_(None)
        )
    )
    if before == after:
        return
    record_change(
        session,
        merchant_id=campaign.merchant_id,
        actor=actor,
        action=action,
        target_type="bonus_campaign",
        target_id=campaign.key,
        before=before,
        after=after,
        now=now,
    )


# -- earning --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FiledCampaign:
    """A campaign with the index keys its conditions are filed under (worked out once)."""

    campaign: BonusCampaignDefinition
    #: :func:`~loyalty_plugin.domain.rules.index.condition_keys` of its conditions.
    keys: frozenset[tuple[str, str]]


def filed(campaign: BonusCampaignDefinition) -> FiledCampaign:
    """``campaign`` with its index keys."""
    return FiledCampaign(campaign, frozenset(condition_keys(campaign.conditions)))


def campaigns_in_force(
    session: Session, merchant: Merchant, at: datetime
) -> list[BonusCampaignDefinition]:
    """The merchant's campaigns running at ``at``, highest priority first (no query when
    the merchant has none running that late)."""
    return [f.campaign for f in filed_in_force(session, merchant, at)]


def filed_in_force(session: Session, merchant: Merchant, at: datetime) -> list[FiledCampaign]:
    """:func:`campaigns_in_force` with their index keys.

    In an event's transaction (the merchant's settings stamp read, no settings written)
    the campaigns come from the settings cache: every campaign not ended, parsed and
    filed once per settings version, and filtered here by time. Their budget counters are
    not in it; charging reads them under lock. Elsewhere, one query as before.
    """
    until = merchant.bonus_campaigns_until
    if until is None or at >= until:
        return []
    if can_cache(session, merchant.id):
        return [f for f in _campaigns_not_ended(session, merchant.id) if f.campaign.is_live(at)]
    rows = session.scalars(
        select(BonusCampaign).where(
            BonusCampaign.merchant_id == merchant.id,
            BonusCampaign.ended_at.is_(None),
            BonusCampaign.starts_at <= at,
            BonusCampaign.ends_at > at,
        )
    )
    found = sorted((_definition(row) for row in rows), key=lambda c: (-c.priority, c.key))
    return [filed(c) for c in found]


def _campaigns_not_ended(session: Session, merchant_id: str) -> tuple[FiledCampaign, ...]:
    """Every campaign of the merchant not ended, highest priority first (cached)."""

    def read() -> tuple[FiledCampaign, ...]:
        rows = session.scalars(
            select(BonusCampaign).where(
                BonusCampaign.merchant_id == merchant_id, BonusCampaign.ended_at.is_(None)
            )
        )
        found = sorted((_definition(row) for row in rows), key=lambda c: (-c.priority, c.key))
        return tuple(filed(c) for c in found)

    return cached(session, merchant_id, "bonus_campaigns", read)


def _definition(row: BonusCampaign) -> BonusCampaignDefinition:
    return BonusCampaignDefinition(
        id=row.id,
        key=row.key,
        name=row.name,
        program=row.program_key,
        conditions=campaign_conditions(row.conditions),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        multiplier=None if row.multiplier is None else Decimal(_plain(row.multiplier)),
        points=row.points,
        priority=row.priority,
    )


def add_bonus_campaigns(
    session: Session,
    *,
    merchant: Merchant,
    account_id: int,
    invoice: InvoiceView,
    customer: CustomerView,
    facts: MerchantFacts,
    earnings: list[ProgramEarning],
    at: datetime,
    now: datetime,
    last_purchase: Callable[[], datetime | None] | None = None,
) -> list[ProgramEarning]:
    """``earnings`` (the programs that count, in order) with the campaigns running at ``at``
    added to the program each rides on, their budgets charged. Call once per invoice.

    ``last_purchase`` reads the customer's last purchase, for a win-back campaign when
    the programs' rules did not need it.
    """
    wanted = wanted_bonuses(
        session, merchant=merchant, invoice=invoice, customer=customer, facts=facts,
        earnings=earnings, at=at, last_purchase=last_purchase,
    )  # fmt: skip
    if not wanted:
        return earnings
    granted = _charge(session, merchant.id, account_id, invoice.id, [w for _, w in wanted], now)
    return with_bonuses(earnings, wanted, granted)


def wanted_bonuses(
    session: Session,
    *,
    merchant: Merchant,
    invoice: InvoiceView,
    customer: CustomerView,
    facts: MerchantFacts,
    earnings: list[ProgramEarning],
    at: datetime,
    last_purchase: Callable[[], datetime | None] | None = None,
) -> list[tuple[int, Wanted]]:
    """What each campaign running at ``at`` wants on the invoice, with the index of the
    earning it rides on; no budget charged (a simulation grants what is wanted)."""
    in_force = filed_in_force(session, merchant, at)
    if not in_force or not earnings:
        return []
    campaigns = [f.campaign for f in in_force]
    facts = _with_store_groups(session, merchant, facts, campaigns)
    winback = any(c.conditions.who.inactive_days is not None for c in campaigns)
    if winback and customer.last_purchase_at is None and last_purchase is not None:
        customer = replace(customer, last_purchase_at=last_purchase())
    return _wanted(in_force, earnings, invoice, customer, facts)


def with_bonuses(
    earnings: list[ProgramEarning], wanted: list[tuple[int, Wanted]], granted: Sequence[int]
) -> list[ProgramEarning]:
    """``earnings`` with each wanted bonus added to its earning as ``granted`` says."""
    result = list(earnings)
    for (index, want), points in zip(wanted, granted, strict=True):
        earning = result[index]
        awards = earning.awards + ((campaign_award(want, points),) if points else ())
        shown = (*earning.bonus_campaigns, explanation(want, points))
        result[index] = replace(earning, awards=awards, bonus_campaigns=shown)
    return result


def _wanted(
    campaigns: Iterable[FiledCampaign],
    earnings: list[ProgramEarning],
    invoice: InvoiceView,
    customer: CustomerView,
    facts: MerchantFacts,
) -> list[tuple[int, Wanted]]:
    """Each campaign that applies, with the index of the earning it rides on.

    A campaign is tested only when the invoice has one of the keys its conditions are
    filed under (:func:`~loyalty_plugin.domain.rules.index.condition_keys`): one that
    has none could not apply, so thousands of campaigns cost a set lookup each.
    """
    found = []
    lookup = LineLookup()
    keys: dict[int, set[tuple[str, str]]] = {}
    for entry in campaigns:
        campaign, filed_under = entry.campaign, entry.keys
        index = _rides_on(campaign, earnings)
        if index is None:
            continue
        earning = earnings[index]
        program = earning.program
        if filed_under:
            if id(program) not in keys:
                keys[id(program)] = invoice_keys(
                    invoice, customer=customer, categories=program.categories,
                    merchant=facts, lookup=lookup,
                )  # fmt: skip
            if filed_under.isdisjoint(keys[id(program)]):
                continue
        ctx = ConditionContext(
            customer=customer, at=invoice.occurred_at, day=invoice.date,
            channel=invoice.channel, store_id=invoice.store_id, merchant=facts,
            lines=_lines_for(campaign, filed_under, invoice, lookup, program.categories),
            categories=program.categories,
        )  # fmt: skip
        want = wanted_points(
            campaign,
            awards=earning.awards,
            multiplier=earning.multiplier,
            rounding=program.earning.rounding,
            ctx=ctx,
            categories=program.categories,
        )
        if want is not None and want.points > 0:
            found.append((index, want))
    return found


def _lines_for(
    campaign: BonusCampaignDefinition,
    filed_under: frozenset[tuple[str, str]],
    invoice: InvoiceView,
    lookup: LineLookup,
    categories: CategoryTree,
) -> tuple[LineView, ...]:
    """The invoice's lines the campaign's ``what`` may select: when it is filed under its
    ``what`` products or categories, only the lines under those keys (in the invoice's
    order, so the breakdown names them as before); else every line."""
    what = campaign.conditions.what
    if not (what.products or what.categories):
        return invoice.lines
    by_key = lookup.by_key(invoice.lines, categories)
    under = {id(line) for key in filed_under for line in by_key.get(key, ())}
    return tuple(line for line in invoice.lines if id(line) in under)


def _rides_on(campaign: BonusCampaignDefinition, earnings: list[ProgramEarning]) -> int | None:
    for index, earning in enumerate(earnings):
        if campaign.program in (None, earning.program.key):
            return index
    return None


def _charge(
    session: Session,
    merchant_id: str,
    account_id: int,
    invoice_id: str,
    wanted: list[Wanted],
    now: datetime,
) -> list[int]:
    """Grant each wanted bonus what its budgets allow, and count it; in ``wanted``'s order.

    The campaign rows are locked in id order first; ``given`` is then read from the locked
    rows and raised by a conditional UPDATE that can never pass the budget. However many
    campaigns apply, that is four statements: the lock, what they gave the customer, the
    counters' UPDATE and the grants' INSERT (each campaign applies once per invoice).
    """
    ids = sorted({w.campaign.id for w in wanted})
    rows = {
        row.id: (row.budget, row.budget_per_customer, row.given)
        for row in session.execute(
            select(
                BonusCampaign.id,
                BonusCampaign.budget,
                BonusCampaign.budget_per_customer,
                BonusCampaign.given,
            )
            .where(BonusCampaign.id.in_(ids))
            .order_by(BonusCampaign.id)
            .with_for_update()
        )
    }
    given_to = _given_to(session, [i for i in ids if rows[i][1] is not None], account_id)
    granted, counted = [], {}
    for want in wanted:
        budget, each, given = rows[want.campaign.id]
        total_left = None if budget is None else budget - given
        customer_left = None if each is None else each - given_to.get(want.campaign.id, 0)
        points = grant(want.points, total_left=total_left, customer_left=customer_left)
        if points:
            counted[want.campaign.id] = counted.get(want.campaign.id, 0) + points
            rows[want.campaign.id] = (budget, each, given + points)
            given_to[want.campaign.id] = given_to.get(want.campaign.id, 0) + points
        session.add(
            BonusCampaignGrant(
                merchant_id=merchant_id, campaign_id=want.campaign.id, account_id=account_id,
                invoice_id=invoice_id, wanted=want.points, points=points, created_at=now,
            )
        )  # fmt: skip
        granted.append(points)
    _count(session, counted)
    return granted


def _given_to(session: Session, campaign_ids: list[int], account_id: int) -> dict[int, int]:
    """What each campaign gave the customer's account so far (the account is locked)."""
    if not campaign_ids:
        return {}
    session.flush()
    found = session.execute(
        select(BonusCampaignGrant.campaign_id, func.sum(BonusCampaignGrant.points))
        .where(
            BonusCampaignGrant.campaign_id.in_(campaign_ids),
            BonusCampaignGrant.account_id == account_id,
        )
        .group_by(BonusCampaignGrant.campaign_id)
    )
    return {campaign_id: int(total or 0) for campaign_id, total in found}


def _count(session: Session, counted: dict[int, int]) -> None:
    """Raise the counters in one UPDATE; its condition makes passing a budget impossible
    even if the rows were not locked (the lock makes it never refuse)."""
    if not counted:
        return
    points = case(counted, value=BonusCampaign.id)
    done = session.execute(
        update(BonusCampaign)
        .where(
            BonusCampaign.id.in_(list(counted)),
            (BonusCampaign.budget.is_(None))
            | (BonusCampaign.given + points <= BonusCampaign.budget),
        )
        .values(given=BonusCampaign.given + points)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != len(counted):  # type: ignore[attr-defined]
        raise InvalidOperation(f"bonus campaigns {sorted(counted)} would pass a budget")


def _with_store_groups(
    session: Session,
    merchant: Merchant,
    facts: MerchantFacts,
    campaigns: Sequence[BonusCampaignDefinition],
) -> MerchantFacts:
    """``facts`` with the merchant's store groups, when a campaign names one and the
    programs' rules did not need them."""
    if facts.store_groups or not any(c.conditions.store_groups for c in campaigns):
        return facts
    groups = session.scalar(
        select(MerchantSettings.store_groups).where(MerchantSettings.merchant_id == merchant.id)
    )
    stores = {name: frozenset(ids) for name, ids in (groups or {}).items()}
    return replace(facts, store_groups=stores)


# -- simulations ----------------------------------------------------------------------------


@dataclass
class CampaignTally:
    """What one campaign would give over a replay, and what its budget has left."""

    name: str
    #: Points left in its total budget now (``None``: no total budget).
    budget_left: int | None
    budget_per_customer: int | None
    invoices: int = 0
    points: int = 0
    by_customer: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """As a simulation reports it: ``budget_would_limit`` when the replay wants more
        than the budget has left, or more for one customer than the per-customer budget
        (``limited_by`` names which)."""
        most = max(self.by_customer.values(), default=0)
        total = self.budget_left is not None and self.points > self.budget_left
        each = self.budget_per_customer is not None and most > self.budget_per_customer
        return {
            "name": self.name,
            "invoices": self.invoices,
            "points": self.points,
            "budget_left": self.budget_left,
            "budget_per_customer": self.budget_per_customer,
            "budget_would_limit": total or each,
            "limited_by": ["budget"] * total + ["budget_per_customer"] * each,
        }


class CampaignReplay:
    """Bonus campaigns applied to a simulation as earning applies them, without charging
    their budgets: each gives what it wants, and the tally says when a budget would have
    given less. Read once (one query) for the whole replay."""

    def __init__(self, session: Session, merchant: Merchant, program_key: str) -> None:
        rows = session.scalars(
            select(BonusCampaign).where(
                BonusCampaign.merchant_id == merchant.id,
                BonusCampaign.ended_at.is_(None),
                (BonusCampaign.program_key.is_(None)) | (BonusCampaign.program_key == program_key),
            )
        ).all()
        found = sorted((_definition(row) for row in rows), key=lambda c: (-c.priority, c.key))
        self.campaigns = [filed(c) for c in found]
        self.tallies = {
            row.key: CampaignTally(
                name=row.name,
                budget_left=None if row.budget is None else max(0, row.budget - row.given),
                budget_per_customer=row.budget_per_customer,
            )
            for row in rows
        }
        self._session, self._merchant = session, merchant
        self._facts: MerchantFacts | None = None

    def apply(
        self,
        earning: ProgramEarning,
        *,
        invoice: InvoiceView,
        customer: CustomerView,
        facts: MerchantFacts,
        at: datetime,
    ) -> ProgramEarning:
        """``earning`` with the campaigns running at ``at`` added (when it gives points)."""
        live = [f for f in self.campaigns if f.campaign.is_live(at)]
        if not live or earning.points <= 0:
            return earning
        if self._facts is None:  # the replay's facts: store groups read once, if needed
            every = [f.campaign for f in self.campaigns]
            self._facts = _with_store_groups(self._session, self._merchant, facts, every)
        wanted = _wanted(live, [earning], invoice, customer, self._facts)
        for _index, want in wanted:
            tally = self.tallies[want.campaign.key]
            tally.invoices += 1
            tally.points += want.points
            tally.by_customer[customer.id] = tally.by_customer.get(customer.id, 0) + want.points
        return with_bonuses([earning], wanted, [w.points for _, w in wanted])[0]

    def report(self) -> dict[str, dict[str, Any]]:
        """Each campaign that would have given something, by key."""
        return {key: t.to_dict() for key, t in sorted(self.tallies.items()) if t.invoices}

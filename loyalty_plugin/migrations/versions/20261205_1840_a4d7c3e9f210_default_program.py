"""data: a default program for every merchant that has none

The interim earning rule (1 point per 10.00 of the total, 50 for enrolling, 100 on a
birthday) becomes a program like any other. Merchants that had no program earned by it;
they get it as their ``default`` program, in force since 2000-01-01 so that nothing they
earn on changes. The settings are frozen here as stored on the day of this migration.

Revision ID: a4d7c3e9f210
Revises: 8b2d4e6f1a93
Create Date: 2026-12-05 18:40:00
"""

import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from loyalty_plugin.models.base import UTCDateTime

revision = "a4d7c3e9f210"
down_revision = "8b2d4e6f1a93"
branch_labels = None
depends_on = None

KEY = "default"
NAME = "Points on every purchase"
SINCE = datetime(2000, 1, 1, tzinfo=UTC)
_NO_EXCLUSIONS = {"categories": [], "groups": [], "products": [], "tags": []}
#: The default program's settings as the programs service stores them (currency added).
SETTINGS = {
    "audience": {"customers": "enrolled", "groups": [], "levels": []},
    "categories": {},
    "combination": "stack",
    "earn_on": "full_payment",
    "earning": {
        "deduct_discounts": True,
        "excluded_tags": ["gift_card", "promotional"],
        "include_shipping": True,
        "include_tax": True,
        "minimum_amount": "0",
        "points_payments_earn": False,
        "rounding": "down",
        "rounding_scope": "invoice",
    },
    "ends_at": None,
    "expiry": {},
    "level_multipliers": {},
    "levels": {},
    "pending_days": 0,
    "priority": 0,
    "redemption": {},
    "reversal": "other_lots",
    "rules": [
        {"exclude": _NO_EXCLUSIONS, "id": "base", "kind": "per_amount", "per": "10.00",
         "points": "1"},
        {"exclude": _NO_EXCLUSIONS, "id": "welcome", "kind": "registration", "limit": None,
         "points": 50},
        {"exclude": _NO_EXCLUSIONS, "id": "birthday", "kind": "birthday", "limit": None,
         "points": 100},
    ],
    "starts_at": None,
}  # fmt: skip

merchants = sa.table("merchants", sa.column("id", sa.String), sa.column("currency", sa.String))
programs = sa.table(
    "programs",
    sa.column("id", sa.BigInteger),
    sa.column("merchant_id", sa.String),
    sa.column("key", sa.String),
    sa.column("name", sa.String),
    sa.column("status", sa.String),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
    sa.column("activated_at", UTCDateTime()),
)
versions = sa.table(
    "program_versions",
    sa.column("merchant_id", sa.String),
    sa.column("program_id", sa.BigInteger),
    sa.column("number", sa.Integer),
    sa.column("effective_from", UTCDateTime()),
    sa.column("settings", sa.JSON),
    sa.column("settings_hash", sa.String),
    sa.column("created_by", sa.String),
    sa.column("created_at", UTCDateTime()),
)


def _hash(settings: dict) -> str:
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    now = datetime.now(UTC)
    has_program = sa.exists().where(programs.c.merchant_id == merchants.c.id)
    rows = bind.execute(sa.select(merchants.c.id, merchants.c.currency).where(~has_program))
    for merchant_id, currency in rows.all():
        bind.execute(
            programs.insert().values(
                merchant_id=merchant_id,
                key=KEY,
                name=NAME,
                status="active",
                created_at=now,
                updated_at=now,
                activated_at=now,
            )
        )
        program_id = bind.scalar(
            sa.select(programs.c.id).where(
                programs.c.merchant_id == merchant_id, programs.c.key == KEY
            )
        )
        settings = {**SETTINGS, "currency": currency}
        bind.execute(
            versions.insert().values(
                merchant_id=merchant_id,
                program_id=program_id,
                number=1,
                effective_from=SINCE,
                settings=settings,
                settings_hash=_hash(settings),
                created_by="migration",
                created_at=now,
            )
        )


def downgrade() -> None:
    # The default programs stay: they may have earned points since, and their invoices'
    # earnings point at them.
    pass

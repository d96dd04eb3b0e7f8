"""What the host has sold through us: products and categories seen on its paid invoices.

The rule editors offer these to choose from, so a rule names a product or a category the
host really sends (``product_id`` or ``sku``; ``category_id``) instead of a typed guess.
Categories named in a program's ``categories`` tree count as known too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from loyalty_plugin.services.earning.programs import latest_version, list_programs
from loyalty_plugin.services.earning.simulation import paid_invoices

#: Invoices read to build the catalogue (the newest).
RECENT_INVOICES = 500


@dataclass
class Catalog:
    """Known products (id or sku → name) and categories (id → parent or ``None``)."""

    products: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str | None] = field(default_factory=dict)

    def search(self, kind: str, query: str = "", limit: int = 20) -> list[tuple[str, str]]:
        """``(id, label)`` of products or categories whose id or name contains ``query``."""
        items = (
            self.products.items()
            if kind == "products"
            else ((c, f"{c} (in {p})" if p else c) for c, p in self.categories.items())
        )
        needle = query.strip().casefold()
        found = [
            (key, label if kind != "products" or label == key else f"{label} ({key})")
            for key, label in items
            if needle in key.casefold() or needle in label.casefold()
        ]
        return sorted(found)[:limit]


def known_items(session: Session, merchant_id: str) -> Catalog:
    """The products and categories of the merchant's newest paid invoices and programs."""
    catalog = Catalog()
    for program in list_programs(session, merchant_id):
        catalog.categories.update(latest_version(program).settings.get("categories") or {})
    for _event_id, body in paid_invoices(session, merchant_id, last=RECENT_INVOICES):
        for line in _lines(body):
            name = str(line.get("name") or "")
            for key in (line.get("product_id"), line.get("sku")):
                if key not in (None, ""):
                    catalog.products.setdefault(str(key), name or str(key))
            category = line.get("category_id")
            if category not in (None, ""):
                catalog.categories.setdefault(str(category), None)
    return catalog


def _lines(body: object) -> list[dict[str, object]]:
    if not isinstance(body, dict):
        return []
    data = body.get("data", body)
    invoice = data.get("invoice", data) if isinstance(data, dict) else {}
    items = invoice.get("items") if isinstance(invoice, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

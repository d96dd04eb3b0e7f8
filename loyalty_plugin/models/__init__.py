"""SQLAlchemy models, one aggregate per module; importing this registers them all."""

from loyalty_plugin.models.base import Base
from loyalty_plugin.models.customer import Customer
from loyalty_plugin.models.ledger import Account, Allocation, LedgerEntry, Lot
from loyalty_plugin.models.merchant import Merchant

__all__ = ["Account", "Allocation", "Base", "Customer", "LedgerEntry", "Lot", "Merchant"]

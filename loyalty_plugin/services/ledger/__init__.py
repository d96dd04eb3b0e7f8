"""Points ledger: entries, accounts, manual adjustments, expiry and integrity checks."""

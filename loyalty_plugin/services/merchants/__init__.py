"""Merchants (tenants): registering one, its configuration, API keys, webhook secrets."""

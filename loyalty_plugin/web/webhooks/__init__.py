"""``POST /webhooks``: signed host events in (contract v1)."""

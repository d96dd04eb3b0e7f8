"""The JSON API for hosts (``/api/v1``): Bearer keys, idempotent writes, OpenAPI 3."""

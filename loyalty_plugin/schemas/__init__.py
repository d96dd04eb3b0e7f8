"""marshmallow schemas: host payloads in, API bodies in and out."""

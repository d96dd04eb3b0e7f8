"""Thin transport layers: each sub-package is one blueprint over the services."""

"""Membership levels: qualifying, moving between levels, bought and given levels."""

"""Pure loyalty rules: no Flask, no HTTP, no database session."""

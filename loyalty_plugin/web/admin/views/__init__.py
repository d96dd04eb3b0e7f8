"""One module per admin screen; each view parses, calls one service, renders or redirects."""

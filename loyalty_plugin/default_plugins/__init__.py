"""Built-in behaviour, registered through the same hooks third-party plugins use."""

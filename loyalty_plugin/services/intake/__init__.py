"""What comes in from the host: signed webhooks, their handlers, first sight, imports."""

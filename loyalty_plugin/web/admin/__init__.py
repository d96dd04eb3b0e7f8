"""The admin pages: staff sign in, choose a merchant, and work on its customers and points."""

"""The e-mail surface: the unsubscribe link every marketing e-mail carries."""

"""What a customer sees: statements for the API and the portal's pages."""

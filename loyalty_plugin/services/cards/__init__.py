"""Loyalty cards: batches of numbers (generated or imported) and the customers who hold them."""

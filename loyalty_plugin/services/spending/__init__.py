"""Spending: paying invoices with points, coupons, rewards and the spending settings."""

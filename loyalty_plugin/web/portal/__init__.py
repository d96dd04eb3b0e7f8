"""The customer portal: a customer's points, level, log and coupons, opened by a signed link."""

"""Earning: programs and their versions, the rule engine, awards for host events, dry runs."""

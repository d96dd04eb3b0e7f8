"""What staff read about a merchant's points: the dashboard, the journal, aging, exports.

Every figure is aggregated by the database, with a number of queries that does not grow
with the data; exports are read in keyset pages and produced row by row.
"""

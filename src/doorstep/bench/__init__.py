"""Benchmarks at city and country scale: a synthetic country and the measurements on it.

Nothing in the product imports this package; it needs ``../shared/data`` (the towns),
which installations do not have.
"""

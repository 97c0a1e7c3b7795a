"""Benchmarks at city and country scale: a synthetic country and the measurements on it.

A development tool, not part of the product: it lives beside ``src/``, is not installed
with doorstep, and nothing in the product imports it. It needs the repository (the test
suite's factories for ``bench.fuzz``) and ``../shared/data`` (the towns). Run it from the
repository root: ``python -m bench <command>`` (generate, targeting) or
``python -m bench.<benchmark> --help``.
"""

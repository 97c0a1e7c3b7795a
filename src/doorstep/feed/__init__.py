"""Neighbors: the geo-local safety feed."""

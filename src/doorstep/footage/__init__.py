"""Footage requests: targeting, owner responses, evidence and export bundles."""

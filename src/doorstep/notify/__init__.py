"""Transactional outbox, the worker that drains it, and delivery channels."""

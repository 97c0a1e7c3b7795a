"""Policy, the tamper-evident audit log and the public views."""

"""Agencies: applications, verification, membership and invitations."""

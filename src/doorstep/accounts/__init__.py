"""Users, passwords, sessions, API tokens, two-factor sign-in, roles, alert preferences."""

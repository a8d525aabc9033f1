"""Mechanism every service shares: settings, database, errors, auth, events, observability."""

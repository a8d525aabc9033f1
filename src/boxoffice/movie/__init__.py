"""The movie service."""

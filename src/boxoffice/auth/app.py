"""Wiring of the auth service."""

from boxoffice.auth.bootstrap import (
    keep_token_store_complete,
    prepare_passwords,
    republish_cut_offs,
    seed_admin,
)
from boxoffice.auth.routes import router
from boxoffice.core.app import ServiceDefinition

SERVICE = ServiceDefinition(
    name="auth",
    package="boxoffice.auth",
    title="auth service",
    description="Accounts, passwords, access tokens (JWT), logout and roles.",
    routers=[router],
    startup=[prepare_passwords, seed_admin, republish_cut_offs],
    background=[keep_token_store_complete],
)

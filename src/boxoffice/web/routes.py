"""The site's pages, one module per audience; this module puts them together."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from boxoffice.web import account, admin, browse, staff, tickets

# Unsafe requests are checked for the visitor's CSRF token by the app itself (app.py), so a
# route added here, or anywhere in the site, is covered without asking.
router = APIRouter(include_in_schema=False)
for module in (browse, tickets, account, staff, admin):
    router.include_router(module.router)


# The site needs nothing of its own to answer (its data comes through the gateway, whose
# failures it renders as pages): alive is ready.
@router.get("/health")
@router.get("/health/live")
@router.get("/health/ready")
async def health() -> dict[str, str]:
    """Design appendix A, for the supervisor, probes and load balancers."""
    return {"status": "healthy", "timestamp": dt.datetime.now(dt.UTC).isoformat()}

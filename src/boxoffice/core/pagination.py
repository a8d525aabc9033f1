"""The one definition of list paging (SPEC 3: default 50, at most 200 a page)."""

from typing import Annotated

from fastapi import Query

# Bounded so a huge offset is a 400, not a database overflow (found by fuzzing).
MAX_OFFSET = 1_000_000

Limit = Annotated[int, Query(ge=1, le=200, description="At most this many items (1-200)")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Skip this many items")]

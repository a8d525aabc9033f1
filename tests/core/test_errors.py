"""Errors the code did not foresee still leave in the design's shape, and a database that
cannot be reached (or has no connection to spare) is a 503 to retry, not a 500."""

import httpx
from fastapi import FastAPI
from sqlalchemy import exc as sa_exc

from boxoffice.core.errors import install_error_handlers


def app_raising(error: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    return app


async def call(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/boom")


async def test_pool_exhausted_or_database_down_is_a_503_with_retry_after():
    for error in (
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 5 reached"),
        sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused")),
        sa_exc.DBAPIError("SELECT 1", {}, Exception("sorry, too many clients already")),
    ):
        response = await call(app_raising(error))
        assert response.status_code == 503, error
        assert response.json()["error_type"] == "ServiceUnavailable"
        assert response.headers["Retry-After"] == "1"


async def test_a_bug_is_a_500_in_the_error_shape_without_the_trace():
    response = await call(app_raising(KeyError("secret internals")))
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal server error",
        "status_code": 500,
        "error_type": "InternalError",
    }

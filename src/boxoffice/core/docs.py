"""Each service's API docs (`/docs`, through the gateway `/api/<prefix>/docs`), served whole by
the service: Swagger UI's bundle and stylesheet come from the pinned `fastapi-swagger` package,
so the docs work without internet, and a small start script of ours replaces FastAPI's inline
one, so the docs page's policy (core/headers.py) allows scripts from 'self' only."""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_swagger.resources
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

_OURS = Path(__file__).parent / "docs_assets"
_SWAGGER_UI = Path(fastapi_swagger.resources.__file__).parent
# The only files served, by name: no path from the URL ever reaches the file system.
ASSETS: dict[str, Path] = {
    "swagger-ui.css": _SWAGGER_UI / "swagger-ui.css",
    "swagger-ui-bundle.js": _SWAGGER_UI / "swagger-ui-bundle.js",
    "favicon-32x32.png": _SWAGGER_UI / "favicon-32x32.png",
    "start.js": _OURS / "start.js",
}
_MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}


def docs_page(title: str, root: str, openapi_url: str) -> str:
    """The Swagger UI page; `root` is the path the service is served under (the gateway's)."""
    assets = f"{root}/docs/assets"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} - API docs</title>
<link rel="stylesheet" href="{escape(assets)}/swagger-ui.css">
<link rel="icon" href="{escape(assets)}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(root + openapi_url)}"></div>
<script src="{escape(assets)}/swagger-ui-bundle.js"></script>
<script src="{escape(assets)}/start.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Add `/docs` and its assets to a service app made with `docs_url=None, redoc_url=None`."""
    openapi_url = app.openapi_url or "/openapi.json"

    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return HTMLResponse(docs_page(app.title, root, openapi_url))

    async def asset(name: str) -> Response:
        path = ASSETS.get(name)
        if path is None:
            return Response(status_code=404)
        return FileResponse(
            path,
            media_type=_MEDIA_TYPES[path.suffix],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs/assets/{name}", asset, methods=["GET"], include_in_schema=False)

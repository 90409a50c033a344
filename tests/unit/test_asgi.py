"""The App is still a plain ASGI application (any ASGI server can host it);
strongroom's own HTTP protocol only skips the ASGI layer for speed."""

from __future__ import annotations

import asyncio

import orjson

from strongroom.server.app import App
from strongroom.server.config import Config
from strongroom.server.serve import prepare


def test_the_app_answers_over_asgi(tmp_path) -> None:
    config = Config(data_dir=tmp_path)
    prepare(config)
    app = App(config)
    sent: list[dict] = []
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/_strongroom/health",
        "raw_path": b"/_strongroom/health",
        "query_string": b"",
        "headers": [(b"host", b"x")],
        "client": ("127.0.0.1", 1234),
        "scheme": "http",
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    try:
        asyncio.run(app(scope, receive, send))
    finally:
        app.shutdown()
    start, body = sent
    assert start["status"] == 200
    assert (b"content-length", str(len(body["body"])).encode()) in start["headers"]
    assert orjson.loads(body["body"])["status"] == "running"

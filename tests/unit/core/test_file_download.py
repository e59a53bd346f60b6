"""File downloads open the file before answering: a file deleted while the answer
is on its way is still sent whole, and one already gone gets the endpoint's error."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kilopbx.api.http_app import file_download


async def test_a_file_deleted_after_opening_is_sent_whole(tmp_path: Path) -> None:
    path = tmp_path / "msg0000.wav"
    path.write_bytes(b"RIFF" + bytes(range(256)) * 40)
    assert await file_download(tmp_path / "gone.wav", "gone.wav", "audio/wav") is None

    async def handler(_: web.Request) -> web.StreamResponse:
        response = await file_download(path, "msg0000.wav", "audio/wav")
        assert response is not None
        path.unlink()  # deleted (voicemail/delete) between the check and the sending
        return response

    app = web.Application()
    app.router.add_get("/download", handler)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        answer = await client.get("/download")
        body = await answer.read()
    assert answer.status == 200 and body == b"RIFF" + bytes(range(256)) * 40
    assert answer.headers["Content-Type"] == "audio/wav"
    assert answer.headers["Content-Length"] == str(len(body))
    assert answer.headers["Content-Disposition"] == 'attachment; filename="msg0000.wav"'

"""Bad uploads, tokens, load and time limits against a real server: each gets its JSON error
with the right status, the server keeps answering, and no temporary file is left."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from .client import multipart, request
from .conftest import TOKEN, needs_serve

pytestmark = needs_serve


def still_healthy(server) -> None:
    h = server.get("healthz")
    assert h.status == 200 and h.json()["ready"], h.body
    assert server.wait_no_temp_files() == []
    assert server.get("healthz").json()["queue"]["requests"] == 0  # every slot given back


@pytest.mark.parametrize(
    "kind, content_type, status, code, says",
    [
        ("random_bytes", "video/mp4", 400, "unreadable_video", "not a video this server can"),
        ("empty", "video/x-msvideo", 400, "empty_upload", "is empty (0 bytes)"),
        ("truncated", "video/x-msvideo", 400, "unreadable_video", "uploaded whole"),
        ("audio_only", "video/mp4", 415, "no_video_stream", "has no video stream"),
        ("audio_only", "audio/mp4", 415, "no_video_stream", "has no video stream"),
        ("left", "text/plain", 415, "not_a_video", "was sent as text/plain"),
        ("left", "image/png", 415, "not_a_video", "not a video"),
        ("minute", "video/x-msvideo", 413, "video_too_long", "limit of 20 s (--max-seconds)"),
    ],
)
def test_a_bad_upload_gets_its_error(server, videos, kind, content_type, status, code, says):
    r = server.post_video(videos[kind], content_type=content_type)
    assert r.status == status and r.error_code == code, r.body
    message = r.json()["error"]["message"]
    assert says in message, message
    assert str(server.tmp) not in message and "upload-" not in message  # no server path
    still_healthy(server)


def test_an_upload_over_the_limit_is_cut_off(server):
    big = np.random.default_rng(0).bytes(3 * 2**20)  # the test server takes 1 MB
    r = server.post_video(big, filename="big.mp4", content_type="video/mp4")
    assert r.status == 413 and r.error_code == "upload_too_large", r.body
    assert "1 MB (--max-upload-mb)" in r.json()["error"]["message"]
    # without a Content-Length (chunked): cut off while it streams
    body, ctype = multipart("video", "big.mp4", big, "video/mp4")
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    r = request("POST", server.url + "v1/predict", chunks, {"Content-Type": ctype})
    assert r.status == 413 and r.error_code == "upload_too_large", r.body
    still_healthy(server)


def test_a_form_without_a_video_or_not_multipart(server, videos):
    r = server.post_video(videos["left"], field="file")
    assert r.status == 400 and "no field named 'video'" in r.json()["error"]["message"]
    raw = videos["left"].read_bytes()
    r = request("POST", server.url + "v1/predict", raw, {"Content-Type": "video/x-msvideo"})
    assert r.status == 415 and r.error_code == "not_multipart"
    assert "curl -F video=@" in r.json()["error"]["message"]
    still_healthy(server)


def test_a_client_name_never_chooses_a_path(server, videos):
    r = server.post_video(videos["left"], filename="../../../../tmp/evil.avi")
    assert r.status == 200 and r.json()["video"] == "evil.avi"
    assert not (server.tmp.parent / "evil.avi").exists()
    still_healthy(server)


def test_the_token_is_required_on_the_api_only(token_server, videos):
    s = token_server
    for headers, says in [({}, "needs a token"), (s.auth("wrong"), "wrong token"),
                          ({"Authorization": f"Basic {TOKEN}"}, "needs a token")]:  # fmt: skip
        r = s.post_video(videos["left"], headers=headers)
        assert r.status == 401 and r.error_code == "unauthorized", r.body
        assert says in r.json()["error"]["message"]
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert s.get("v1/model", headers=headers).status == 401
    assert s.post_video(videos["left"]).status == 200  # with the right token
    assert s.get("v1/model", headers=s.auth()).status == 200
    assert s.get("healthz").status == 200 and s.get("").status == 200  # no secrets there
    assert s.wait_no_temp_files() == []


def test_busy_is_503_with_retry_after_and_nothing_hangs(tight_server, videos):
    """--queue 1: of 6 requests at once, one is served at a time, the others are told to
    come back (Retry-After); every request gets an answer."""
    data = videos["left"].read_bytes()

    def post(_):
        tic = time.monotonic()
        r = tight_server.post_video(data, filename="left.avi", timeout=60)
        return r, time.monotonic() - tic

    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(post, range(6)))
    statuses = sorted(r.status for r, _ in replies)
    assert 200 in statuses and 503 in statuses, statuses
    assert set(statuses) <= {200, 503}, [r.body for r, _ in replies]
    for r, seconds in replies:
        assert seconds < 30
        if r.status == 503:
            assert r.error_code == "busy" and int(r.headers["retry-after"]) >= 1
            assert "--queue" in r.json()["error"]["message"]
    still_healthy(tight_server)


def test_a_request_past_the_timeout_is_504_and_its_work_stops(tight_server, videos):
    """1500 windows, one per frame, cannot be scored in the tight server's 2 s."""
    tic = time.monotonic()
    r = tight_server.post_video(videos["minute"], query="?timeline=true&stride=0.04")
    assert r.status == 504 and r.error_code == "timeout", r.body
    assert "2 s (--timeout)" in r.json()["error"]["message"]
    assert time.monotonic() - tic < 10
    still_healthy(tight_server)  # the request's thread stopped: file gone, slot free
    assert tight_server.post_video(videos["left"]).status == 200

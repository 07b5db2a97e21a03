"""The JSON API of a real `mrstnet serve` over HTTP: predictions, the model, health, OpenAPI.

A prediction must be the computation of `mrstnet predict` and `mrstnet timeline` on the
same file: the commands' JSON files are the reference.
"""

from __future__ import annotations

import json

import pytest

from mrstnet.cli import main
from mrstnet.deploy.weights import demo_checkpoint
from mrstnet.engine.checkpoint import load_checkpoint

from .conftest import needs_serve

pytestmark = needs_serve


def same_top(got: list[dict], want: list[dict]) -> None:
    assert [t["class"] for t in got] == [t["class"] for t in want]
    assert [t["index"] for t in got] == [t["index"] for t in want]
    assert [t["prob"] for t in got] == pytest.approx([t["prob"] for t in want], abs=1e-5)


def test_model_describes_the_shipped_demo_weights(server):
    r = server.get("v1/model")
    assert r.status == 200
    m = r.json()
    ckpt = load_checkpoint(demo_checkpoint())
    assert m["classes"] == ckpt["classes"] == ["MoveLeft", "MoveRight", "MoveUp", "MoveDown"]
    assert m["arch"] == ckpt["model"]["arch"] and m["config"] == ckpt["model"]
    assert m["clip"] == {**ckpt["data"], "num_clips": 1, "crops": 1, "flip": False}
    assert 100_000 < m["parameters"] < 1_000_000
    assert m["checkpoint"] == str(demo_checkpoint())
    assert m["limits"] == {"max_upload_mb": 1.0, "max_seconds": 20.0, "timeout": 120.0,
                           "max_clips": 32}  # fmt: skip


def test_healthz_says_ready_with_an_empty_queue(server):
    r = server.get("healthz")
    assert r.status == 200
    h = r.json()
    assert h["status"] == "ok" and h["ready"] and h["model_loaded"]
    assert h["queue"]["requests"] == 0 and h["queue"]["limit"] == 32


def test_predict_is_what_mrstnet_predict_says(server, videos, tmp_path):
    r = server.post_video(videos["left"], query="?top=3")
    assert r.status == 200, r.body
    got = r.json()
    assert got["video"] == "move_left.avi"
    assert got["frames"] == 24 and got["width"] == 80 and got["fps"] == 25
    assert got["clips"] == 10 and "timeline" not in got and got["elapsed_s"] > 0
    assert main(["predict", str(videos["left"]), "--top", "3", "--json", str(tmp_path / "p.json"),
                 "--threads", "1", "--no-progress"]) == 0  # fmt: skip
    want = json.loads((tmp_path / "p.json").read_text())["predictions"][0]
    same_top(got["top"], want["top"])
    assert got["top"][0]["class"] == "MoveLeft" and got["top"][0]["prob"] > 0.8


def test_timeline_is_what_mrstnet_timeline_says(server, videos, tmp_path):
    r = server.post_video(videos["long"], query="?timeline=true&smooth=3&threshold=0.5")
    assert r.status == 200, r.body
    got = r.json()["timeline"]
    out = tmp_path / "t.json"
    assert main(["timeline", str(videos["long"]), "--json", str(out), "--threads", "1",
                 "--no-progress"]) == 0  # fmt: skip
    want = json.loads(out.read_text())
    for key in ("fps", "duration", "frames", "window", "stride", "smooth", "threshold"):
        assert got[key] == want[key], key
    assert len(got["windows"]) == len(want["windows"]) > 10
    for g, w in zip(got["windows"], want["windows"], strict=True):
        assert (g["index"], g["start"], g["end"]) == (w["index"], w["start"], w["end"])
        same_top(g["top"], w["top"])
    assert [(s["start"], s["end"], s["class"], s["windows"]) for s in got["segments"]] == [
        (s["start"], s["end"], s["class"], s["windows"]) for s in want["segments"]
    ]
    assert [s["prob"] for s in got["segments"]] == pytest.approx(
        [s["prob"] for s in want["segments"]], abs=2e-4
    )
    classes = {s["class"] for s in got["segments"]}
    assert {"MoveLeft", "MoveUp", "MoveRight"} <= classes  # what the video shows


def test_parameters_are_checked(server, videos):
    for query, says in [
        ("?top=0", "top"),
        ("?smooth=2", "smooth: an odd number"),
        ("?crops=2", "crops"),
        ("?clips=20&crops=3", "at most 32"),
        ("?threshold=2", "threshold"),
        ("?timeline=maybe", "timeline"),
    ]:
        r = server.post_video(videos["left"], query=query)
        assert r.status == 422 and r.error_code == "invalid_parameter", (query, r.body)
        assert says in r.json()["error"]["message"], (query, r.body)


def test_openapi_is_served_and_no_page_needs_another_site(server):
    r = server.get("openapi.json")
    assert r.status == 200
    spec = r.json()
    predict = spec["paths"]["/v1/predict"]["post"]
    assert "multipart/form-data" in predict["requestBody"]["content"]
    assert {"400", "401", "413", "415", "503", "504"} <= set(predict["responses"])
    assert {"/v1/model", "/healthz"} <= set(spec["paths"])
    # /docs and /redoc would load Swagger UI / ReDoc from a CDN: not served
    for path in ("docs", "redoc"):
        r = server.get(path)
        assert r.status == 404 and r.error_code == "not_found"
    page = server.get("")
    assert page.status == 200 and b"<title>mrstnet" in page.body
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("", "static/app.js", "static/style.css", "static/icon.svg"):
        body = server.get(asset).body.replace(b"http://www.w3.org/2000/svg", b"")  # a name
        for other_site in (b"http://", b"https://", b'"//', b"'//", b"url(//"):
            assert other_site not in body, (asset, other_site)


def test_unknown_paths_and_methods_get_json_errors(server):
    r = server.get("v2/predict")
    assert r.status == 404 and r.error_code == "not_found"
    r = server.get("v1/predict")
    assert r.status == 405 and r.error_code == "method_not_allowed"

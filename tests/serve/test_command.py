"""`mrstnet serve` refuses what it must before starting anything: no model is loaded, no
port is opened (in-process and in a fresh interpreter without the extra)."""

from __future__ import annotations

import socket

import pytest

from mrstnet.cli import main
from mrstnet.serve.server import check_exposure, is_loopback
from tests.test_extras import run_without


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_a_non_local_address_needs_a_token_or_insecure(host, capsys, monkeypatch):
    monkeypatch.delenv("MRSTNET_TOKEN", raising=False)
    assert main(["serve", "--host", host, "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mrstnet serve: error: --host ") and "--token" in err, err
    assert "--insecure" in err and len(err.splitlines()) == 1
    check_exposure(host, "a-token", insecure=False)  # either makes it acceptable
    check_exposure(host, None, insecure=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.5"])
def test_loopback_addresses_need_no_token(host):
    assert is_loopback(host)
    check_exposure(host, None, insecure=False)


def test_an_empty_token_is_refused(capsys):
    assert main(["serve", "--token", " ", "--port", "0"]) == 2
    assert "--token is empty" in capsys.readouterr().err


def test_a_missing_checkpoint_and_a_taken_port(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope.pt")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    pytest.importorskip("fastapi")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--threads", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mrstnet serve: error: cannot listen on 127.0.0.1:{port}"), err


def test_bad_limits_are_user_errors(capsys):
    assert main(["serve", "--queue", "0"]) == 2
    assert "--queue" in capsys.readouterr().err


def test_without_the_serve_extra_it_says_how_to_install_it():
    done = run_without(["fastapi"], ["serve", "--port", "0"])
    assert done.returncode == 1, done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("mrstnet serve: error: the HTTP server needs the optional extra 'serve'")
    assert err.endswith("pip install 'mrstnet[serve]'")

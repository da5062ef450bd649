"""`evac-reader pair` and `evac-reader run` against a real local HTTP server and the emulated cards."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.cardreader.conftest import FakeEvacServer, ReaderProcess, fake_evac_server, run_reader

pytestmark = pytest.mark.cardreader

NAME, ADDRESS, BIRTH = "精華　花子", "京都府相楽郡精華町光台７丁目４３番地", "19800102"


def _pair(pcscd: object, server: FakeEvacServer, config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_reader(pcscd, "pair", "ABC-123", "--server", server.url, "--name", "受付1", "--config", str(config),
                      *extra)


def _assert_no_personal_data(text: str, *also: str) -> None:
    for secret in (NAME, ADDRESS, BIRTH, "1234", *also):
        assert secret not in text, f"{secret!r} leaked into the output"


def test_pairing_stores_the_token_privately_and_never_prints_it(evac_server, tmp_path):
    config = tmp_path / "evac-reader" / "config.json"
    result = _pair(None, evac_server, config)

    assert result.returncode == 0, result.stderr
    assert evac_server.requests[0].path == "/api/v1/readers/pair"
    assert evac_server.requests[0].body == {"code": "ABC-123", "name": "受付1"}
    assert "精華町立東光小学校" in result.stderr
    assert evac_server.token not in result.stdout + result.stderr
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    stored = json.loads(config.read_text(encoding="utf-8"))
    assert stored["token"] == evac_server.token
    assert (stored["reader_id"], stored["shelter_id"], stored["server"]) == (7, 3, evac_server.url)


@pytest.mark.parametrize(("status", "code", "ja", "en"), [
    (404, "pairing_code_unknown", "ペアリングコードが見つかりません", "Unknown pairing code"),
    (410, "pairing_code_expired", "有効期限が切れています", "has expired"),
])
def test_a_refused_code_stores_nothing(evac_server, tmp_path, status, code, ja, en):
    evac_server.pair_answers.append((status, {"error": {"code": code, "message": "test"}}))
    config = tmp_path / "config.json"
    result = _pair(None, evac_server, config)

    assert result.returncode == 11
    assert ja in result.stderr and en in result.stderr
    assert not config.exists()


def test_plain_http_to_another_host_is_refused_before_any_request(tmp_path):
    result = run_reader(None, "pair", "ABC-123", "--server", "http://192.0.2.10", "--config", str(tmp_path / "c"))
    assert result.returncode == 11
    assert "https://" in result.stderr


def test_tls_is_verified(tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not found: cannot make the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with fake_evac_server(context) as server:
        untrusted = _pair(None, server, tmp_path / "a.json")
        assert untrusted.returncode == 11
        assert "TLS certificate not trusted" in untrusted.stderr
        trusted = _pair(None, server, tmp_path / "b.json", "--ca-bundle", str(cert))
        assert trusted.returncode == 0, trusted.stderr
    assert json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))["ca_bundle"] == str(cert.resolve())


def test_run_without_pairing_says_how_to_pair(tmp_path):
    result = run_reader(None, "run", "--config", str(tmp_path / "none.json"), timeout=15)
    assert result.returncode == 10
    assert "evac-reader pair" in result.stderr


def test_run_delivers_each_read_once_retrying_with_the_same_read_id(pcscd, cards, evac_server, tmp_path):
    config = tmp_path / "config.json"
    assert _pair(pcscd, evac_server, config).returncode == 0
    evac_server.read_answers.append(503)  # the first attempt meets a server that is restarting
    reader = ReaderProcess(["run", "--config", str(config), "--pin-stdin"], env=pcscd.env)
    try:
        reader.wait_for("カードをリーダーに置いてください")
        card = cards("mynumber")
        reader.wait_for("残り 3 回")
        reader.type("1234")
        first, retry = evac_server.wait_reads(2)
        assert first.body == retry.body, "a retry carries the same read_id"
        assert uuid.UUID(first.body["read_id"]).version == 4
        assert first.body == {"read_id": first.body["read_id"], "type": "mynumber",
                              "card": {"name": NAME, "address": ADDRESS, "birth_date": BIRTH, "sex": "2"}}
        assert first.headers["Authorization"] == f"Bearer {evac_server.token}"
        assert first.headers["Content-Type"] == "application/json"
        reader.wait_for("delivered after 2 attempt(s)")

        time.sleep(1.5)
        assert len(evac_server.reads()) == 2, "a card left lying on the reader is not read again"
        card.pull()
        cards("ic", uid="0123456789ABCDEF")
        reads = evac_server.wait_reads(3)
        assert reads[2].body == {"read_id": reads[2].body["read_id"], "type": "ic", "uid": "0123456789ABCDEF"}
        assert reads[2].body["read_id"] != first.body["read_id"]
    finally:
        code = reader.stop()
    assert code == 0, reader.stderr
    assert reader.stdout == ""
    _assert_no_personal_data(reader.stderr, evac_server.token, "0123456789ABCDEF")
    assert first.body["read_id"] in reader.stderr, "logs carry the read id"


def test_an_undeliverable_read_is_reported_and_the_reader_goes_on(pcscd, cards, evac_server, tmp_path):
    config = tmp_path / "config.json"
    assert _pair(pcscd, evac_server, config).returncode == 0
    evac_server.read_answers.extend([503] * 50)
    reader = ReaderProcess(["run", "--config", str(config), "--retry-for", "1"], env=pcscd.env)
    try:
        card = cards("ic", uid="04A1B2C3D4E5F6")
        reader.wait_for("NOT delivered")
        reader.wait_for("受付画面に送れませんでした")
        assert len({r.body["read_id"] for r in evac_server.reads()}) == 1
        evac_server.read_answers.clear()
        card.pull()
        cards("ic", uid="04A1B2C3D4E5F7")
        reader.wait_for("delivered after 1 attempt(s)")
        assert evac_server.reads()[-1].body["uid"] == "04A1B2C3D4E5F7"
    finally:
        assert reader.stop() == 0, reader.stderr


def test_a_revoked_reader_stops_and_says_pair_again(pcscd, cards, evac_server, tmp_path):
    config = tmp_path / "config.json"
    assert _pair(pcscd, evac_server, config).returncode == 0
    evac_server.token = "evr_someone_else"  # the server no longer knows this reader's token
    reader = ReaderProcess(["run", "--config", str(config)], env=pcscd.env)
    try:
        cards("ic")
        assert reader.proc.wait(20) == 10
    finally:
        reader.stop()
    assert "もう一度 `evac-reader pair`" in reader.stderr and "pair` again" in reader.stderr
    assert len(evac_server.reads()) == 1, "no retries once the server said 401"


def test_reader_unplugged_and_plugged_back(pcscd, cards, evac_server, tmp_path):
    config = tmp_path / "config.json"
    assert _pair(pcscd, evac_server, config).returncode == 0
    reader = ReaderProcess(["run", "--config", str(config)], env=pcscd.env)
    try:
        card = cards("ic", uid="04000000000001")
        evac_server.wait_reads(1)
        card.pull()
        pcscd.stop()  # the USB cable pulled: no reader, no PC/SC service
        reader.wait_for("接続されるのを待っています")
        time.sleep(1.5)
        assert reader.proc.poll() is None, "the reader keeps waiting"
        pcscd.start()
        reader.wait_for("カードリーダーが接続されました")
        cards("ic", uid="04000000000002")
        reads = evac_server.wait_reads(2)
        assert reads[1].body["uid"] == "04000000000002"
    finally:
        if pcscd.proc is None:
            pcscd.start()
        code = reader.stop()
    assert code == 0, reader.stderr
    assert "Waiting for it to be plugged in" in reader.stderr


def test_config_location_follows_the_platform_convention(tmp_path, monkeypatch):
    from cardreader import config

    monkeypatch.delenv("EVAC_READER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config.default_path() == tmp_path / "evac-reader" / "config.json"
    monkeypatch.setenv("EVAC_READER_CONFIG", str(tmp_path / "x.json"))
    assert config.default_path() == tmp_path / "x.json"
    assert os.sep in str(config.default_path())

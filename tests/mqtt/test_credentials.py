"""Broker credentials: passwords apart from the URL, refusals that stay visible, client certificates."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sasha import config
from sasha.errors import ConfigError
from sasha.mqtt.connection import MqttSettings
from sasha.mqtt.mosquitto import Mosquitto, free_port
from tests.conftest import EXAMPLE, clean_env, fast, run_sasha, start_sasha
from tests.mqtt.test_mqtt import _make_certificates


def password_file(folder: Path, users: dict[str, str]) -> Path:
    """Make a mosquitto password file with `mosquitto_passwd -b`, as deploy/init-passwords.sh does."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed")
    path = folder / "passwords"
    path.touch()
    for user, password in users.items():
        subprocess.run([tool, "-b", str(path), user, password], check=True, capture_output=True)
    return path


def test_password_from_a_file_beats_the_environment_and_the_url(tmp_path: Path) -> None:
    """Read the first line of the password file; the variable beats the URL; neither shows in repr."""
    secret = tmp_path / "mqtt-password"
    secret.write_text("from-the-file\nignored\n")
    environ = {"SASHA_MQTT_URL": "mqtt://u:from-url@h", "SASHA_MQTT_PASSWORD": "from-env"}
    assert config.load(environ=environ).mqtt().password == "from-env"
    settings = config.load({"mqtt_password_file": str(secret), "mqtt_username": "sasha"}, environ=environ)
    mqtt = settings.mqtt()
    assert (mqtt.username, mqtt.password) == ("sasha", "from-the-file")
    assert "from-" not in repr(settings) + repr(mqtt) + mqtt.url
    assert config.load(environ={"SASHA_MQTT_URL": "mqtt://u:from-url@h"}).mqtt().password == "from-url"


def test_a_password_file_that_cannot_be_used_is_a_clear_error(tmp_path: Path) -> None:
    """Name the file and the reason, never its content."""
    with pytest.raises(ConfigError, match=r"cannot read the MQTT password file .*missing: No such file"):
        config.load({"mqtt_password_file": str(tmp_path / "missing")}, environ={})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        config.load({"mqtt_password_file": str(empty)}, environ={})


def test_client_certificates_need_tls() -> None:
    """Refuse a client certificate for plain mqtt://, and a key without its certificate."""
    with pytest.raises(ConfigError, match="needs an mqtts:// URL"):
        MqttSettings.from_url("mqtt://h", cert_file="c.pem", key_file="k.pem")
    with pytest.raises(ConfigError, match="needs its certificate"):
        MqttSettings.from_url("mqtts://h", key_file="k.pem")
    settings = config.load(environ={"SASHA_MQTT_URL": "mqtts://h", "SASHA_MQTT_CERT": "c", "SASHA_MQTT_KEY": "k"})
    assert (settings.mqtt().cert_file, settings.mqtt().key_file) == ("c", "k")


async def test_a_refused_login_is_logged_as_an_error_every_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Log every refused attempt at error level, without the password, and tell `refused`."""
    wrong = secrets.token_urlsafe(16)
    users = password_file(tmp_path, {"sasha": secrets.token_urlsafe(16)})
    async with Mosquitto(password_file=users) as broker:
        settings = MqttSettings.from_url(broker.url, username="sasha", password=wrong)
        with caplog.at_level(logging.DEBUG, logger="sasha.mqtt"):
            async with fast(settings) as link:
                for _ in range(200):
                    if sum(r.levelno == logging.ERROR for r in caplog.records) >= 5:
                        break
                    await asyncio.sleep(0.05)
                assert not link.connected
                assert link.refused
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) >= 5
    assert all("not authorised" in e and "user 'sasha'" in e for e in errors)
    assert wrong not in caplog.text


async def test_sasha_run_and_health_with_a_wrong_password(tmp_path: Path) -> None:
    """Never say "serving" while refused; `sasha health` says "not authorised"; no password in any output."""
    right, wrong = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    users = password_file(tmp_path, {"sasha": right})
    async with Mosquitto(password_file=users) as broker:
        env = clean_env(SASHA_MQTT_USERNAME="sasha", SASHA_MQTT_PASSWORD=wrong, SASHA_STATE_DIR=str(tmp_path))
        code, out, err = await run_sasha("health", "--mqtt-url", broker.url, env=env)
        assert code == 1
        assert "sasha health: not authorised" in err
        assert wrong not in out + err
        process = await start_sasha("run", "--devices", str(EXAMPLE), "--mqtt-url", broker.url, env=env)
        assert process.stderr is not None
        lines: list[str] = []
        try:
            async with asyncio.timeout(60):
                # The refusal is logged again at every retry, not only at the start.
                while sum("not authorised" in line for line in lines) < 2:
                    lines.append((await process.stderr.readline()).decode())
        finally:
            process.terminate()
            out_b, err_b = await process.communicate()
        log = "".join(lines) + (out_b + err_b).decode()
        assert "ERROR sasha.mqtt.connection: MQTT mqtt://sasha:***@127.0.0.1" in log
        assert "serving" not in log
        assert wrong not in log
        # The same broker with the right password: healthy only once a daemon says online.
        env["SASHA_MQTT_PASSWORD"] = right
        code, _, err = await run_sasha("health", "--mqtt-url", broker.url, env=env)
        assert code == 1
        assert err.strip() == "sasha health: no status on sasha/status: the daemon has not run on this broker"


def _client_certificate(folder: Path, ca_cert: Path) -> tuple[Path, Path]:
    """Sign a client certificate with the test CA."""
    openssl = shutil.which("openssl")
    assert openssl is not None
    key, request, cert = folder / "client.key", folder / "client.csr", folder / "client.crt"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    sign = ["-CA", str(ca_cert), "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-days", "1"]
    for command in (
        [openssl, "req", *ec, "-keyout", str(key), "-out", str(request), "-subj", "/CN=sasha"],
        [openssl, "x509", "-req", "-in", str(request), *sign, "-out", str(cert)],
    ):
        subprocess.run(command, check=True, capture_output=True)
    return cert, key


_WITHOUT_CERTIFICATE = """
import asyncio, sys
from sasha.mqtt.connection import MqttConnection, MqttSettings

async def main():
    settings = MqttSettings.from_url(sys.argv[1], ca_file=sys.argv[2])
    async with MqttConnection(settings, reconnect_min=0.05) as link:
        try:
            await link.wait_connected(2)
        except TimeoutError:
            print("refused")
        else:
            print("connected")

asyncio.run(main())
"""


async def test_client_certificate_against_a_broker_that_requires_one(tmp_path: Path) -> None:
    """Connect with --mqtt-cert/--mqtt-key to a mosquitto with require_certificate; fail without."""
    ca_cert, server_cert, server_key = _make_certificates(tmp_path)
    client_cert, client_key = _client_certificate(tmp_path, ca_cert)
    async with Mosquitto(tls=(server_cert, server_key), client_ca=ca_cert) as broker:
        settings = config.load(
            {"mqtt_url": broker.url, "mqtt_ca_file": str(ca_cert), "mqtt_cert": str(client_cert)}
            | {"mqtt_key": str(client_key)},
            environ={},
        )
        async with fast(settings.mqtt()) as link:
            await link.wait_connected(5)
            assert await link.publish("cert/x", b"signed", wait=5)
        # Without a certificate the handshake fails; in its own process because paho-mqtt 2.x
        # leaks the socket of a failed TLS handshake.
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-W",
            "ignore::ResourceWarning",
            "-c",
            _WITHOUT_CERTIFICATE,
            broker.url,
            str(ca_cert),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await process.communicate()
        assert out.decode().strip() == "refused"


async def test_discover_takes_the_ca_file_flag(tmp_path: Path) -> None:
    """`sasha discover --mqtt-ca-file` reaches an mqtts:// broker signed by a CA the system does not trust."""
    ca_cert, server_cert, server_key = _make_certificates(tmp_path)
    async with Mosquitto(tls=(server_cert, server_key)) as broker:
        tls = ("--mqtt-url", broker.url, "--mqtt-ca-file", str(ca_cert))
        code, _, err = await run_sasha("discover", *tls, "--wait", "0.5")
        assert code == 0, err
        assert "0 devices from 0 announcements" in err


async def test_health_says_not_connected_when_no_broker_answers() -> None:
    """Say "not connected" with the reason when nothing listens on the broker's port."""
    code, _, err = await run_sasha("health", "--mqtt-url", f"mqtt://127.0.0.1:{free_port()}")
    assert code == 1
    assert "\nsasha health: not connected to mqtt://127.0.0.1:" in err
    assert err.endswith("Connection refused\n")


@pytest.mark.parametrize("command", ["run", "sim", "health"])
def test_a_password_given_as_a_flag_is_refused_without_echoing_it(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refuse `--mqtt-password SECRET` as an unknown flag, never as an abbreviation of `--mqtt-password-file`."""
    from sasha.surfaces.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([command, "--mqtt-password", "hunter2-secret"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --mqtt-password ***" in err
    assert "hunter2" not in err
    assert "password file" not in err

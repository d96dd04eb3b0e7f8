"""What the `loyalty` command prints: no stray lines, plain help, a clear taken port."""

import json
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import click

from loyalty_plugin.cli import bind_server, main
from loyalty_plugin.email.links import base_url

ROOT = Path(__file__).resolve().parents[1]


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def test_help_texts_show_no_restructuredtext_markup(app) -> None:
    """Every command's --help is plain text: no ``literal`` or :role: markup."""
    runner = app.test_cli_runner()
    for path in _commands(main):
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        for markup in ("``", ":class:", ":func:", ":data:"):
            assert markup not in result.output, (path, result.output)


def test_ledger_verify_prints_only_the_verdict(app) -> None:
    """Without a terminal, `ledger verify` prints its verdict and no progress label."""
    result = app.test_cli_runner().invoke(main, ["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.strip() == "ledger OK: balances, lots, entries and allocations agree"


def test_demo_prints_no_progress_label(app) -> None:
    """Without a terminal, `loyalty demo` prints no stray "demo customers" line."""
    result = app.test_cli_runner().invoke(main, ["demo", "--customers", "2"])
    assert result.exit_code == 0, result.output
    assert "demo customers" not in result.output
    assert result.output.splitlines()[0].strip() != ""


def test_portal_link_fallback_is_logged_once(caplog) -> None:
    """Without LOYALTY_PUBLIC_URL the fallback is logged once, not on every link."""
    from loyalty_plugin.email import links

    links._warned.clear()
    caplog.set_level(logging.WARNING, logger="loyalty_plugin.email.links")
    config = {"LOYALTY_PUBLIC_URL": None, "LOYALTY_URL_PREFIX": "/loyalty"}
    assert {base_url(config) for _ in range(5)} == {"http://localhost:8000/loyalty"}
    assert [r.getMessage() for r in caplog.records] == [
        "LOYALTY_PUBLIC_URL is not set; e-mail links point to http://localhost:8000"
    ]
    assert base_url({**config, "LOYALTY_PUBLIC_URL": "https://x.example/"}) == (
        "https://x.example/loyalty"
    )
    assert len(caplog.records) == 1


def test_serve_on_a_taken_port_says_so_and_how_to_choose_another(tmp_path) -> None:
    """`loyalty serve` on a busy port exits with one clear message, never a traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "LOYALTY_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
            "LOYALTY_SECRET_KEY": "x",
            "LOYALTY_SCHEDULER": "off",
        }
        result = subprocess.run(
            [sys.executable, "-m", "loyalty_plugin", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "listening" not in result.stdout
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert f"make serve PORT={port + 1}" in result.stderr


def test_serve_links_use_the_port_really_served(app) -> None:
    """Without LOYALTY_PUBLIC_URL, links point to the port `serve` really bound."""
    app.config["LOYALTY_PUBLIC_URL"] = None
    server = bind_server(app, host="127.0.0.1", port=0, threads=1)
    try:
        port = server.effective_port
        assert port != 0
        assert base_url(app.config) == f"http://127.0.0.1:{port}/loyalty"
    finally:
        server.close()


def test_makefile_serve_takes_a_port() -> None:
    """`make serve PORT=8001` reaches `loyalty serve --port`."""
    makefile = (ROOT / "Makefile").read_text()
    assert "PORT ?= 8000" in makefile
    assert "loyalty serve --port $(PORT)" in makefile


def test_make_serve_demo_prints_the_port_it_serves_on() -> None:
    """`make serve PORT=8177` gives `loyalty demo` the port that `loyalty serve` gets, so
    the demo's curl examples reach the server."""
    dry_run = subprocess.run(
        ["make", "-n", "serve", "PORT=8177"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "loyalty demo --port 8177" in dry_run
    assert "loyalty serve --port 8177" in dry_run


def test_demo_examples_use_the_port_given(app) -> None:
    """`loyalty demo --port 8177` prints curl and health examples on 8177, never 8000."""
    app.config["LOYALTY_PUBLIC_URL"] = None
    result = app.test_cli_runner().invoke(main, ["demo", "--customers", "1", "--port", "8177"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8177/loyalty/api/v1/customers/1001" in result.output
    assert "http://127.0.0.1:8177/loyalty/health" in result.output
    assert ":8000" not in result.output


def test_demo_examples_use_the_public_url_when_set(app) -> None:
    """With LOYALTY_PUBLIC_URL set, the demo's examples use it (links are built from it)."""
    app.config["LOYALTY_PUBLIC_URL"] = "https://loyalty.example.com/"
    result = app.test_cli_runner().invoke(main, ["demo", "--customers", "1", "--port", "8177"])
    assert result.exit_code == 0, result.output
    assert "https://loyalty.example.com/loyalty/api/v1/settings" in result.output
    assert "8177" not in result.output


def _value(output: str, label: str) -> str:
    line = next(line for line in output.splitlines() if line.strip().startswith(label))
    return line.split()[-1]


def test_demo_gives_a_labelled_admin_key_and_says_how_to_make_keys_again(app) -> None:
    """The demo prints a write key and an admin key that reads settings; a second run
    prints the exact commands that make new credentials, and those commands work."""
    runner = app.test_cli_runner()
    first = runner.invoke(main, ["demo", "--customers", "1"])
    assert first.exit_code == 0, first.output
    write = _value(first.output, "API key, write scope (host):")
    admin = _value(first.output, "API key, ADMIN scope (staff):")
    assert _value(first.output, "webhook signing secret:").startswith("whsec_")
    client = app.test_client()
    settings = "/loyalty/api/v1/settings"
    assert client.get(settings, headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    assert client.get(settings, headers={"Authorization": f"Bearer {write}"}).status_code == 403
    second = runner.invoke(main, ["demo"])
    assert second.exit_code == 0, second.output
    assert write not in second.output
    assert "cannot be shown again" in second.output
    commands = [line.strip() for line in second.output.splitlines() if "create --merchant" in line]
    assert len(commands) == 3
    for command in commands:
        args = command.split()[1:]
        made = runner.invoke(main, args)
        assert made.exit_code == 0, (command, made.output)
    key = runner.invoke(main, [*commands[2].split()[1:], "--json"]).output
    token = json.loads(key)["key"]
    assert client.get(settings, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_demo_prints_a_set_password_link_that_signs_its_owner_in(app) -> None:
    """The demo's owner sets a password through the printed one-time link, then signs in to
    the admin pages of the demo merchant; the printed command makes a new link."""
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["demo", "--customers", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    link = next(line.strip() for line in lines if "/admin/password/" in line)
    client = app.test_client()
    password = "a long demo password"
    path = "/" + link.split("/", 3)[3]
    set_password = client.post(
        path, data={"csrf": _csrf(client, path), "password": password, "password_again": password}
    )
    assert set_password.status_code in (302, 303), set_password.get_data(as_text=True)
    sign_in = "/loyalty/admin/sign-in"
    form = {"csrf": _csrf(client, sign_in), "email": "owner@demo.example", "password": password}
    signed_in = client.post(sign_in, data=form)
    assert signed_in.status_code in (302, 303), signed_in.get_data(as_text=True)
    home = client.get(signed_in.headers["Location"], follow_redirects=True)
    assert "Demo Coffee Roasters" in home.get_data(as_text=True)
    again = next(line.strip() for line in lines if line.strip().startswith("loyalty staff create"))
    made = runner.invoke(main, again.split()[1:])
    assert made.exit_code == 0, made.output
    assert "/admin/password/" in made.output


def _csrf(client, path: str) -> str:
    """The CSRF value of the form on the page at ``path``."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

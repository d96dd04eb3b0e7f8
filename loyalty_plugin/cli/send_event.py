"""``loyalty send-event``: sign an event file and post it, to try an integration by hand."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request

import click

from loyalty_plugin.domain.signatures import signature_headers


@click.command("send-event")
@click.argument("file", type=click.File("rb"))
@click.option("--url", required=True, help="e.g. http://127.0.0.1:8000/loyalty/webhooks")
@click.option("--secret", required=True, envvar="LOYALTY_SEND_SECRET", help="The whsec_ secret.")
@click.option("--id", "msg_id", help="webhook-id to send [default: a new random one].")
def send_event(file: click.utils.LazyFile, url: str, secret: str, msg_id: str | None) -> None:
    """Sign FILE (a JSON event) with Standard Webhooks and POST it; print the answer."""
    body = file.read()
    try:
        json.loads(body)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="FILE") from None
    msg_id = msg_id or "msg_" + secrets.token_hex(12)
    headers = signature_headers([secret], msg_id=msg_id, timestamp=int(time.time()), body=body)
    headers["content-type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - a URL the operator typed
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    except OSError as error:
        raise click.ClickException(f"could not reach {url}: {error}") from None
    click.echo(f"{status} webhook-id {msg_id}")
    click.echo(answer.decode("utf-8", errors="replace"))
    if status >= 400:
        raise SystemExit(1)

"""What an unsigned ``POST /webhooks`` costs as the number of merchants grows (#12 item 12).

Makes a throw-away SQLite database with N merchants, each with one active secret, then
posts bodies with a well-formed but wrong signature: a 1 MB body that is not JSON, one whose
``merchant_id`` is not a string, and one naming a merchant. Prints the median time of each.

    PYTHONPATH=. python bench/unsigned_webhooks.py --merchants 503
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from loyalty_plugin import create_app, migrations
from loyalty_plugin.domain.signatures import new_secret, signature_headers
from loyalty_plugin.models import Merchant
from loyalty_plugin.models.base import utcnow
from loyalty_plugin.services.merchants.secrets import create_secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=503)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "LOYALTY_DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.db'}",
                "LOYALTY_SECRET_KEY": "bench",
                "LOYALTY_WEBHOOK_MAX_BYTES": 2_000_000,
            }
        )
        with app.app_context():
            migrations.upgrade(app.extensions["loyalty"].db.engine)
            session = app.extensions["loyalty"].db.session
            for n in range(args.merchants):
                merchant_id = "default" if n == 0 else f"m{n}"
                session.add(Merchant(id=merchant_id, name=merchant_id, currency="EUR"))
                session.flush()
                create_secret(session, merchant_id=merchant_id, now=utcnow(), secret=new_secret())
            session.commit()
        client = app.test_client()
        filler = "x" * 1_000_000
        bodies = {
            "not JSON (1 MB)": filler.encode(),
            "merchant_id not a string (1 MB)": json.dumps(
                {"merchant_id": [1], "pad": filler}
            ).encode(),
            "names merchant m1 (1 MB)": json.dumps({"merchant_id": "m1", "pad": filler}).encode(),
        }
        print(f"{args.merchants} merchants, one active secret each; median of {args.repeat}")
        for label, body in bodies.items():
            print(f"  {label:34} {_median_ms(client, body, args.repeat):8.1f} ms")


def _median_ms(client: object, body: bytes, repeat: int) -> float:
    times = []
    for i in range(repeat):
        headers = signature_headers(
            [new_secret()], msg_id=f"bench-{i}", timestamp=int(time.time()), body=body
        )
        start = time.perf_counter()
        answer = client.post(  # type: ignore[attr-defined]
            "/loyalty/webhooks", data=body, headers=headers | {"content-type": "application/json"}
        )
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code in (401, 422), answer.status_code
    return statistics.median(times)


if __name__ == "__main__":
    main()

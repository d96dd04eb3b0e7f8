"""The standalone app and the Flask extension mounted inside a host's own app."""

import pytest
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from loyalty_plugin import LoyaltyPlugin, create_app
from loyalty_plugin.extensions import get_session
from loyalty_plugin.models import Merchant
from tests.conftest import wipe


def test_health_reports_version_and_database(client) -> None:
    """The standalone service answers its health check under /loyalty."""
    response = client.get("/loyalty/health")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_unknown_url_under_prefix_answers_json_error(client) -> None:
    """A 404 under the plugin's prefix uses the one error shape."""
    response = client.get("/loyalty/nope")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_health_says_unavailable_when_database_is_unreachable(tmp_path) -> None:
    """With no database to reach, health answers 503 and no stack trace."""
    app = create_app(
        {
            "LOYALTY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
            "LOYALTY_SECRET_KEY": "x",
        }
    )
    response = app.test_client().get("/loyalty/health")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unreachable"}


def test_extension_mounts_in_a_host_app_under_its_prefix(database_url, engine) -> None:
    """A host without Flask-SQLAlchemy gets ours, bound to LOYALTY_DATABASE_URL."""
    host = Flask("host")
    host.config.update(LOYALTY_DATABASE_URL=database_url, LOYALTY_SECRET_KEY="x")

    @host.get("/")
    def home() -> str:
        return "host home"

    LoyaltyPlugin().init_app(host, url_prefix="/rewards")
    client = host.test_client()
    assert client.get("/rewards/health").json["status"] == "ok"
    assert client.get("/").text == "host home"
    missing = client.get("/elsewhere")
    assert missing.status_code == 404
    assert missing.mimetype == "text/html"
    assert client.get("/loyalty/anything").mimetype == "text/html"
    assert client.get("/rewards/nope").json["error"]["code"] == "not_found"
    with host.app_context():
        get_session().add(Merchant(id="hosted", name="Hosted", currency="EUR"))
        get_session().commit()
        host.extensions["loyalty"].db.engine.dispose()
    wipe(engine)


def test_extension_reuses_the_hosts_flask_sqlalchemy(database_url, engine) -> None:
    """A host that already runs Flask-SQLAlchemy shares its session with the plugin."""
    host = Flask("host")
    host.config.update(SQLALCHEMY_DATABASE_URI=database_url, LOYALTY_SECRET_KEY="x")
    host_db = SQLAlchemy()
    host_db.init_app(host)
    LoyaltyPlugin(host)
    assert host.extensions["loyalty"].db is host_db
    with host.app_context():
        assert get_session() is host_db.session
        get_session().add(Merchant(id="shared", name="Shared", currency="EUR"))
        get_session().commit()
        assert host_db.session.get(Merchant, "shared").name == "Shared"
    assert host.test_client().get("/loyalty/health").json["status"] == "ok"
    with host.app_context():
        host_db.engine.dispose()
    wipe(engine)


@pytest.mark.parametrize("path", ["/loyalty/health"])
def test_errors_never_leak_a_stack_trace(app, path, monkeypatch) -> None:
    """An unexpected failure answers 500 in the error shape, without internals."""
    import loyalty_plugin.web.health as health

    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(health, "get_session", broken)
    response = app.test_client().get(path)
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "secret internals" not in response.text


def test_prefix_root_points_to_health_portal_and_openapi(client) -> None:
    """``/loyalty/`` answers a short JSON index whose links all resolve."""
    response = client.get("/loyalty/")
    assert response.status_code == 200
    links = response.json["links"]
    assert links == {
        "health": "/loyalty/health",
        "portal": "/loyalty/portal",
        "openapi": "/loyalty/api/v1/openapi.json",
    }
    assert client.get(links["health"]).status_code == 200
    assert client.get(links["openapi"]).json["openapi"].startswith("3.")

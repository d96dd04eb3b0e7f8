"""Configuration: defaults, instance file, environment, overrides; the secret key."""

import json
import os
import stat

import pytest

from loyalty_plugin.config import DEFAULTS, load_config


def test_defaults_give_an_sqlite_file_in_the_instance_folder(tmp_path) -> None:
    """With nothing configured the service runs on SQLite in its instance folder."""
    config = load_config(str(tmp_path), environ={})
    assert config["LOYALTY_DATABASE_URL"] == f"sqlite:///{tmp_path / 'loyalty.sqlite3'}"
    assert config["LOYALTY_DEFAULT_CURRENCY"] == DEFAULTS["LOYALTY_DEFAULT_CURRENCY"]


def test_secret_key_is_generated_once_and_private(tmp_path) -> None:
    """No hard-coded secret: one is generated, stored 0600, and reused."""
    first = load_config(str(tmp_path), environ={})["LOYALTY_SECRET_KEY"]
    second = load_config(str(tmp_path), environ={})["LOYALTY_SECRET_KEY"]
    assert first == second
    assert len(first) >= 40
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    other = tmp_path / "other"
    assert load_config(str(other), environ={})["LOYALTY_SECRET_KEY"] != first


def test_environment_beats_instance_file_and_overrides_beat_both(tmp_path) -> None:
    """Order: defaults, instance/loyalty.json, environment, then explicit overrides."""
    (tmp_path / "loyalty.json").write_text(
        json.dumps(
            {
                "LOYALTY_TIMEZONE": "Europe/Zagreb",
                "LOYALTY_DEFAULT_CURRENCY": "HRK",
            }
        )
    )
    env = {"LOYALTY_DEFAULT_CURRENCY": "USD", "LOYALTY_DEFAULT_MERCHANT": "acme"}
    config = load_config(str(tmp_path), {"LOYALTY_DEFAULT_MERCHANT": "override"}, env)
    assert config["LOYALTY_TIMEZONE"] == "Europe/Zagreb"
    assert config["LOYALTY_DEFAULT_CURRENCY"] == "USD"
    assert config["LOYALTY_DEFAULT_MERCHANT"] == "override"


def test_unknown_loyalty_key_warns(tmp_path) -> None:
    """A misspelt key is reported instead of silently ignored."""
    with pytest.warns(UserWarning, match="LOYALTY_DATABSE_URL"):
        load_config(str(tmp_path), {"LOYALTY_DATABSE_URL": "x"}, {})


def test_workers_starting_together_share_one_secret_key(tmp_path) -> None:
    """Eight workers on a fresh instance folder all get the same key, and none fails."""
    from concurrent.futures import ThreadPoolExecutor

    from loyalty_plugin.config import stored_secret_key

    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: stored_secret_key(str(tmp_path)), range(8)))
    assert len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]

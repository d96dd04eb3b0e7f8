"""The default templates ship inside the package, and the top-level folder points there."""

from pathlib import Path

from loyalty_plugin.email.templates import DEFAULTS_DIR, TEMPLATES

REPOSITORY = Path(__file__).resolve().parents[3]


def test_default_templates_live_in_the_package() -> None:
    """Each template has its three files under loyalty_plugin/, which the wheel ships."""
    assert DEFAULTS_DIR == REPOSITORY / "loyalty_plugin" / "email_templates"
    for name in TEMPLATES:
        files = sorted(p.name for p in (DEFAULTS_DIR / name).iterdir())
        assert files == ["body.html", "body.txt", "subject.txt"], name
    assert sorted(p.name for p in DEFAULTS_DIR.iterdir()) == sorted([*TEMPLATES, "_shared"])
    # The shared HTML layout the defaults extend (shipped by the same "email_templates/*/*").
    assert [p.name for p in (DEFAULTS_DIR / "_shared").iterdir()] == ["layout.html"]


def test_the_top_level_email_templates_folder_is_the_same_folder() -> None:
    """``email_templates/`` at the repository root is a symlink to the package's folder."""
    assert (REPOSITORY / "email_templates").resolve() == DEFAULTS_DIR


def test_package_data_declares_the_templates() -> None:
    """pyproject.toml lists them as package data, so a plain ``pip install`` has them."""
    assert '"email_templates/*/*"' in (REPOSITORY / "pyproject.toml").read_text()

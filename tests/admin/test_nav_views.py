"""The admin bar with the test client: sections per role, the open section's screens."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from loyalty_plugin.web.admin import access
from loyalty_plugin.web.admin.access import NavItem
from loyalty_plugin.web.admin.blueprint import STAFF


def _nav(page: str, name: str) -> list[tuple[str, str | None]]:
    """``[(label, aria-current)]`` of the links of the nav called ``name`` (none: [])."""
    found = re.search(rf'<nav [^>]*aria-label="{name}">(.*?)</nav>', page, re.S)
    if found is None:
        return []
    links = re.findall(r'<a href="[^"]*" ?(?:aria-current="(\w+)")?>([^<]*)</a>', found[1])
    return [(label, current or None) for current, label in links]


def _labels(page: str, name: str) -> list[str]:
    return [label for label, _ in _nav(page, name)]


@pytest.mark.parametrize(
    ("role", "sections", "reports"),
    [
        ("staff", ["Reports", "Customers", "Setup"], ["Dashboard", "Journal", "Aging", "Exports"]),
        (
            "manager",
            ["Reports", "Customers", "Setup", "Integration", "Operations"],
            ["Dashboard", "Journal", "Aging", "Exports", "Audit"],
        ),
        (
            "owner",
            ["Reports", "Customers", "Setup", "Integration", "Operations"],
            ["Dashboard", "Journal", "Aging", "Exports", "Audit"],
        ),
    ],
)
def test_the_bar_shows_the_sections_the_role_may_open(
    admin_client, role: str, sections: list[str], reports: list[str]
) -> None:
    """A section none of whose screens the role may open is not shown; the home page opens
    Reports, whose screens are the second row, Dashboard the current one."""
    client = admin_client(role=role)
    page = client.get(client.m("/")).get_data(as_text=True)
    assert _labels(page, "Sections") == sections
    assert ("Reports", "true") in _nav(page, "Sections")
    assert _labels(page, "Screens") == reports
    assert ("Dashboard", "page") in _nav(page, "Screens")


def test_the_second_row_is_the_open_screens_section(admin_client) -> None:
    """On Cards the second row is the Customers section; an owner's Integration has Staff."""
    client = admin_client(role="manager")
    page = client.get(client.m("/cards")).get_data(as_text=True)
    assert _nav(page, "Sections")[1] == ("Customers", "true")
    assert _nav(page, "Screens") == [("Customers", None), ("Approvals", None), ("Cards", "page")]
    owner = admin_client(role="owner", merchant="cafe")
    page = owner.get(owner.m("/integration")).get_data(as_text=True)
    assert _labels(page, "Screens") == ["Integration", "Staff"]
    manager_page = client.get(client.m("/integration")).get_data(as_text=True)
    assert _labels(manager_page, "Screens") == ["Integration"]


@pytest.fixture
def unsectioned() -> Iterator[NavItem]:
    """An entry added the old way, without a section (removed afterwards)."""
    item = NavItem(label="Old entry", endpoint="admin.exports", role=STAFF, position=5)
    access._NAV.append(item)
    yield item
    access._NAV.remove(item)


def test_an_entry_without_a_section_is_shown_under_more(admin_client, unsectioned) -> None:
    """Backwards compatible: it appears in a last section "More"; its page stays in Reports."""
    client = admin_client(role="staff")
    page = client.get(client.m("/")).get_data(as_text=True)
    assert _labels(page, "Sections") == ["Reports", "Customers", "Setup", "More"]
    page = client.get(client.m("/exports")).get_data(as_text=True)
    assert ("Reports", "true") in _nav(page, "Sections")
    assert ("More", None) in _nav(page, "Sections")
    assert ("Exports", "page") in _nav(page, "Screens")


def test_a_page_outside_the_bar_shows_the_sections_only(admin_client) -> None:
    """My sessions belongs to no section: no second row, nothing marked current."""
    client = admin_client(role="staff")
    page = client.get("/loyalty/admin/sessions").get_data(as_text=True)
    assert _nav(page, "Screens") == []

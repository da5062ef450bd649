"""Steps every desk browser test takes the same way: log in as staff, open a shelter's desk."""

from __future__ import annotations

from typing import Any

from tests import factories


def log_in(page: Any, base_url: str, username: str, *, lands_on: str = "/desk") -> None:
    """Log in through the login page as a person would, and wait for the page it leads to."""
    page.goto(f"{base_url}/login")
    page.get_by_label("ユーザー名").fill(username)
    page.get_by_label("パスワード").fill(factories.PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url(f"{base_url}{lands_on}")


def open_desk(page: Any, base_url: str, shelter_id: int, username: str = "desk1") -> str:
    """Log in as staff and open the shelter's desk, ready for a scan; the desk's address."""
    log_in(page, base_url, username)
    url = f"{base_url}/desk/{shelter_id}"
    page.goto(url)
    page.wait_for_selector("#desk[data-ready='1']")
    return url

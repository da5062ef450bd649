"""`next=` after login and after the language switch leads only to a path on this site."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from evac.accounts.models import Role
from evac.common.urls import local_path
from tests import factories
from tests.serving import csrf_from

OFF_SITE = [
    "//evil.example", "/%09/evil.example", "/%0A/evil.example", "/%0D%0A/evil.example", "/%5Cevil.example",
    "/%5C%5Cevil.example", "%2F%2Fevil.example", "https://evil.example/", "javascript:alert(1)",
    "/%20/evil.example", "%09//evil.example", "evil.example",
]
BROKEN = ["/%0Ax", "/%0D%0ASet-Cookie:%20x=1", "/x%0A"]


def _login(client: FlaskClient, query: str) -> object:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(f"/login?next={query}", data={"username": "redirect-hq", "password": factories.PASSWORD,
                                                     "csrf_token": token})


@pytest.mark.parametrize("target", OFF_SITE + BROKEN)
def test_login_never_leaves_the_site(client: FlaskClient, db, target: str) -> None:
    factories.account(Role.HQ, username="redirect-hq")
    response = _login(client, target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/hq"


@pytest.mark.parametrize("target", OFF_SITE + BROKEN)
def test_language_switch_never_leaves_the_site(client: FlaskClient, db, target: str) -> None:
    response = client.get(f"/lang/en?next={target}")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/desk/3", "/hq/inquiry?q=%E3%81%9B%E3%81%84%E3%81%8B", "/?lang=en&page=2"])
def test_a_path_on_the_site_is_followed(client: FlaskClient, db, target: str) -> None:
    factories.account(Role.HQ, username="redirect-hq")
    assert _login(client, target.replace("?", "%3F").replace("&", "%26")).headers["Location"] == target
    assert client.get(f"/lang/ja?next={target.replace('?', '%3F').replace('&', '%26')}").headers["Location"] == target


def test_a_nul_in_next_is_refused_before_any_redirect(client: FlaskClient, db) -> None:
    response = client.get("/lang/en?next=/%00/evil.example")
    assert response.status_code == 422 and "Location" not in response.headers


def test_local_path_refuses_what_a_browser_would_read_as_another_host() -> None:
    for target in ("/\t/evil.example", "/\n/evil.example", "/\\evil.example", " //evil.example", "//evil.example",
                   "http:/evil.example", "/\x7f/x"):
        assert local_path(target) is None, repr(target)
    assert local_path("/hq") == "/hq"
    assert local_path("/desk/1?x=避難") == "/desk/1?x=避難"

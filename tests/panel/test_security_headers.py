"""Browser-facing protections: HTTPS-only cookies and HSTS behind a TLS proxy, and a
Content-Security-Policy that allows no inline script."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parents[2]
TLS_SETTINGS = (
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
)


def settings_under(**env) -> dict:
    """The TLS settings as a fresh interpreter computes them from this environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PANEL_")}
    code = (
        "import json, panel.settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {TLS_SETTINGS!r}}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": "x", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_behind_a_tls_proxy_cookies_are_secure_and_hsts_is_sent():
    loaded = settings_under(PANEL_BEHIND_TLS_PROXY="1")
    assert loaded["SESSION_COOKIE_SECURE"] is loaded["CSRF_COOKIE_SECURE"] is True
    assert loaded["SECURE_HSTS_SECONDS"] == 31536000
    assert loaded["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert (
        settings_under(PANEL_BEHIND_TLS_PROXY="1", PANEL_HSTS_SECONDS="300")["SECURE_HSTS_SECONDS"]
        == 300
    )


def test_without_a_tls_proxy_nothing_claims_https():
    loaded = settings_under()
    assert loaded["SESSION_COOKIE_SECURE"] is loaded["CSRF_COOKIE_SECURE"] is False
    assert loaded["SECURE_HSTS_SECONDS"] == 0
    assert settings_under(PANEL_SECURE_COOKIES="1")["SESSION_COOKIE_SECURE"] is True


@pytest.mark.django_db
@override_settings(
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    SECURE_HSTS_SECONDS=31536000,
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
)
def test_an_https_login_page_carries_hsts_and_a_secure_csrf_cookie():
    page = Client().get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    assert page.cookies["csrftoken"]["secure"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/login/", "/admin/login/", "/password/reset/", "/api/docs/"])
def test_pages_forbid_inline_script(url):
    policy = Client().get(url)["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy


def test_no_portal_template_has_inline_script_or_style():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert "style=" not in text, template
        for tag in text.split("<script")[1:]:
            assert tag.lstrip().startswith("src="), template

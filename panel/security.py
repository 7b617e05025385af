"""The Content-Security-Policy header (Django 5.2 has none of its own)."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    """Every response gets the panel's policy unless a view set its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

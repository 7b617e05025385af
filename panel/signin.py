"""The two-step login of the portal and the Django admin: email and password, then, for an
account with a second factor, a code from the authenticator app (or a recovery code).

Between the steps the session holds only who passed the password, for a few minutes; the
person is logged in (a new session key) once the code passes. An account that must use two
factors but has none yet is logged in to enrol and nothing else (`EnrolmentOnlyMiddleware`).
"""

import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView

from dci import errors
from panel import logins, twofactor
from panel.models import User
from panel.portal.forms import LoginCodeForm, LoginForm, submit
from panel.sources import client_address

PENDING_KEY = "login_pending"
ENROL_ONLY_KEY = "two_factor_enrol_only"
PENDING_SECONDS = 300
# What machine clients read: they are answered 403, not sent to a page, by an enrol-only session.
MACHINE_PATHS = ("/api/", "/metrics")
ENROL_FIRST = (
    "This session may only set up two-factor login, which the account must use: finish that "
    "in the portal first."
)


class AdminLoginForm(logins.ThrottledLoginForm, AdminAuthenticationForm):
    """The admin's login, under the same throttle as the portal's."""


def _pending_user(request, via: str) -> User | None:
    """Who passed the password step of surface `via` in this session, if recently and not
    changed since."""
    pending = request.session.get(PENDING_KEY)
    if not pending or pending["until"] < time.time() or pending["via"] != via:
        return None
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is None or not constant_time_compare(user.get_session_auth_hash(), pending["hash"]):
        return None
    return user


class PasswordLoginView(auth_views.LoginView):
    """Step one. An account with a second factor goes on to the code step, logged in only
    then; one that must enrol is logged in to enrol; the rest as Django's LoginView."""

    template_name = "portal/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
    via = "portal"
    code_step = "login-code"

    def form_valid(self, form):
        user = form.get_user()
        if twofactor.has_second_factor(user):
            self.request.session[PENDING_KEY] = {
                "user": user.pk,
                "hash": user.get_session_auth_hash(),
                "until": time.time() + PENDING_SECONDS,
                "via": self.via,
                "next": self.get_success_url(),
            }
            return redirect(self.code_step)
        response = super().form_valid(form)
        logins.record_login(user=user, via=self.via, second_factor=None)
        if twofactor.must_enrol(user):
            # Where to go once enrolled (the answer to the enrolment offers it).
            self.request.session[ENROL_ONLY_KEY] = {"next": self.get_success_url()}
            messages.warning(
                self.request, "Your account must use two-factor login: set it up to go on."
            )
            return redirect("two-factor-enrol")
        return response

    def get_redirect_url(self):
        """`next`, unless it is this login page itself (Django's LoginView would refuse a
        logged-in person the loop with a ValueError: a 500)."""
        url = super().get_redirect_url()
        return "" if urlsplit(url).path == self.request.path else url


class CodeLoginView(FormView):
    """Step two: the code, under the same throttle as passwords."""

    template_name = "portal/login_code.html"
    form_class = LoginCodeForm
    via = "portal"
    first_step = "login"

    @method_decorator(sensitive_post_parameters())
    @method_decorator(csrf_protect)
    @method_decorator(never_cache)
    def dispatch(self, request, *args, **kwargs):
        self.user = _pending_user(request, self.via)
        if self.user is None:
            messages.info(request, "Log in with your password first.")
            return redirect(self.first_step)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form):
        second_factor = submit(
            form,
            twofactor.login_with_code,
            user=self.user,
            code=form.cleaned_data["code"],
            address=client_address(self.request),
            via=self.via,
        )
        if second_factor is None:
            return self.form_invalid(form)
        next_url = self.request.session.pop(PENDING_KEY)["next"]
        auth_login(self.request, self.user)
        logins.record_login(user=self.user, via=self.via, second_factor=second_factor)
        if second_factor == "recovery_code":
            left = twofactor.unused_recovery_codes(self.user)
            messages.warning(self.request, f"Recovery code used: {left} left.")
        return redirect(next_url)


class StaffContextMixin:
    """What Django's admin login pages are given (AdminSite.login)."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            admin.site.each_context(self.request),
            title="Log in",
            subtitle=None,
            app_path=self.request.get_full_path(),
            username=self.request.user.get_username(),
        )
        return context


class StaffPasswordLoginView(StaffContextMixin, PasswordLoginView):
    template_name = "admin/login.html"
    authentication_form = AdminLoginForm
    redirect_authenticated_user = False  # a customer logged in may log in here as staff
    via = "admin"
    code_step = "staff-login-code"

    def get(self, request, *args, **kwargs):
        if admin.site.has_permission(request):
            return redirect("admin:index")
        return super().get(request, *args, **kwargs)

    def get_default_redirect_url(self):
        return reverse("admin:index")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if REDIRECT_FIELD_NAME not in self.request.GET | self.request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index")
        return context


class StaffCodeLoginView(StaffContextMixin, CodeLoginView):
    template_name = "admin/login_code.html"
    via = "admin"
    first_step = "admin:login"


class EnrolmentOnlyMiddleware:
    """A session logged in to enrol a required second factor reaches the enrolment page, the
    logout and static files, and nothing else, until the enrolment is done: pages redirect to
    the enrolment, the APIs answer 403. Once the account has a second factor (set up in another
    session, which ends this one's auth hash; checked here too, so that no way of enrolling can
    leave it looping), such a session, which passed the password alone, is logged out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Without a session cookie the session is not even looked at (nor is `Vary: Cookie`
        # added to the API's and the boot endpoints' answers).
        enrol_only = settings.SESSION_COOKIE_NAME in request.COOKIES and request.session.get(
            ENROL_ONLY_KEY
        )
        if not enrol_only or request.path.startswith(
            (reverse("two-factor-enrol"), reverse("logout"), settings.STATIC_URL)
        ):
            return self.get_response(request)
        if not request.user.is_authenticated or twofactor.has_second_factor(request.user):
            auth_logout(request)
            messages.info(request, "Your session has ended: log in again.")
            return redirect("login")
        if request.path.startswith(MACHINE_PATHS):
            return errors.forbidden(request, ENROL_FIRST)
        return redirect("two-factor-enrol")

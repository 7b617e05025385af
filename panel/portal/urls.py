from django.contrib.auth import views as auth
from django.urls import path, reverse_lazy
from django.views.generic import RedirectView

from panel.portal import views
from panel.portal.forms import AuditedPasswordChangeForm
from panel.signin import CodeLoginView, PasswordLoginView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="servers"), name="home"),
    path("login/", PasswordLoginView.as_view(), name="login"),
    path("login/code/", CodeLoginView.as_view(), name="login-code"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth.PasswordChangeView.as_view(
            template_name="portal/form_page.html",
            form_class=AuditedPasswordChangeForm,
            success_url=reverse_lazy("password-changed"),
            extra_context={"title": "Change your password", "submit": "Change password"},
        ),
        name="password-change",
    ),
    path(
        "password/changed/",
        auth.PasswordChangeDoneView.as_view(
            template_name="portal/message_page.html",
            extra_context={"title": "Password changed", "text": "Your password was changed."},
        ),
        name="password-changed",
    ),
    path(
        "password/reset/",
        auth.PasswordResetView.as_view(
            template_name="portal/form_page.html",
            success_url=reverse_lazy("password-reset-sent"),
            extra_context={"title": "Reset your password", "submit": "Send the reset link"},
        ),
        name="password-reset",
    ),
    path(
        "password/reset/sent/",
        auth.PasswordResetDoneView.as_view(
            template_name="portal/message_page.html",
            extra_context={
                "title": "Check your email",
                "text": "If an account has this address, a link to set a new password is on "
                "its way.",
            },
        ),
        name="password-reset-sent",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(
            template_name="portal/form_page.html",
            success_url=reverse_lazy("password-reset-done"),
            extra_context={"title": "Choose a new password", "submit": "Set password"},
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth.PasswordResetCompleteView.as_view(
            template_name="portal/message_page.html",
            extra_context={"title": "Password set", "text": "You can log in with it now."},
        ),
        name="password-reset-done",
    ),
    path("servers/", views.server_list, name="servers"),
    path("servers/<int:pk>/", views.server_detail, name="server"),
    path("servers/<int:pk>/power/", views.power_live, name="server-power-live"),
    path("servers/<int:pk>/power/<str:action>/", views.power, name="server-power"),
    path("servers/<int:pk>/reinstall/", views.reinstall, name="server-reinstall"),
    path("servers/<int:pk>/diagnostics/", views.run_diagnostics, name="server-diagnostics"),
    path("servers/<int:pk>/capture/", views.capture_image, name="server-capture"),
    path("servers/<int:pk>/restore/", views.restore_image, name="server-restore"),
    path("images/", views.disk_images, name="disk-images"),
    path("images/<int:pk>/delete/", views.delete_disk_image, name="disk-image-delete"),
    path("servers/<int:pk>/rescue/", views.rescue, name="server-rescue"),
    path("servers/<int:pk>/rescue/exit/", views.rescue_exit, name="server-rescue-exit"),
    path("servers/<int:pk>/console/", views.console, name="server-console"),
    path("servers/<int:pk>/console/open/", views.open_console, name="server-console-open"),
    path("operations/<int:pk>/", views.operation, name="operation"),
    path("operations/<int:pk>/live/", views.operation_live, name="operation-live"),
    path("operations/<int:pk>/cancel/", views.cancel_operation, name="operation-cancel"),
    path("keys/", views.ssh_keys, name="ssh-keys"),
    path("keys/<int:pk>/delete/", views.delete_ssh_key, name="ssh-key-delete"),
    path("tokens/", views.api_tokens, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", views.revoke_api_token, name="api-token-revoke"),
    path("settings/", views.account_settings, name="settings"),
    path("settings/two-factor/", views.two_factor, name="two-factor"),
    path("settings/two-factor/enrol/", views.two_factor_enrol, name="two-factor-enrol"),
    path(
        "settings/two-factor/recovery-codes/",
        views.two_factor_recovery_codes,
        name="two-factor-recovery-codes",
    ),
]

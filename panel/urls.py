from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dci.login import logout_view, token_view
from inventory.api.urls import register as register_inventory
from network.api.urls import PDU_VIEWSET, SWITCH_VIEWSET
from network.api.urls import register as register_network
from panel.api.urls import OptionalSlashRouter
from panel.api.urls import register as register_people
from panel.dashboard import dashboard
from panel.signin import StaffCodeLoginView, StaffPasswordLoginView
from provisioning.api.urls import SERVER_VIEWSET
from provisioning.api.urls import register as register_provisioning
from provisioning.metrics_view import metrics_view
from webhooks.api.urls import register as register_webhooks

router = OptionalSlashRouter()
api_v1 = (
    register_people(router)
    + register_inventory(
        router,
        server_viewset=SERVER_VIEWSET,
        switch_viewset=SWITCH_VIEWSET,
        pdu_viewset=PDU_VIEWSET,
    )
    + register_network(router)
    + register_provisioning(router)
    + register_webhooks(router)
    + router.urls
)

urlpatterns = [
    # Browsers ask for it whatever the page says; the pages link the SVG itself.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="staff-dashboard"),
    # The admin's login, in two steps like the portal's (panel.signin), before admin.site's own.
    path("admin/login/", StaffPasswordLoginView.as_view(), name="staff-login"),
    path("admin/login/code/", StaffCodeLoginView.as_view(), name="staff-login-code"),
    path("admin/", admin.site.urls),
    path("boot/", include("provisioning.urls")),
    path("api/v1/", include(api_v1)),
    # DCImanager auth v4 (dci.login). ISPsystem's clients send no trailing slash; like /api/v1/
    # (OptionalSlashRouter) either is answered and the schema names the path with it.
    re_path(r"^api/auth/v4/public/token/?$", token_view, name="dci-token"),
    re_path(r"^api/auth/v4/token/?$", logout_view, name="dci-logout"),
    path("api/", include("dci.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # Split: the page loads its start-up script from a URL, so the CSP needs no inline one.
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/docs.html"),
        name="api-docs",
    ),
    path("metrics", metrics_view, name="metrics"),
    path("", include("panel.portal.urls")),
]

# DCImanager's paths answer in its envelope; the rest as panel.api.errors does.
handler404 = "dci.errors.not_found"
handler500 = "dci.errors.server_error"

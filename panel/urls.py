from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from inventory.api.urls import register as register_inventory
from network.api.urls import PDU_VIEWSET, SWITCH_VIEWSET
from network.api.urls import register as register_network
from panel.api.urls import OptionalSlashRouter
from panel.api.urls import register as register_people
from panel.dashboard import dashboard
from provisioning.api.urls import SERVER_VIEWSET
from provisioning.api.urls import register as register_provisioning

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
    + router.urls
)

urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="staff-dashboard"),
    path("admin/", admin.site.urls),
    path("boot/", include("provisioning.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # Split: the page loads its start-up script from a URL, so the CSP needs no inline one.
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/docs.html"),
        name="api-docs",
    ),
    path("", include("panel.portal.urls")),
]

handler404 = "panel.api.errors.not_found"
handler500 = "panel.api.errors.server_error"

"""The panel's routes plus a tiny DciView, to test DCI authentication and errors as the DCI
API's own views will meet them."""

from django.urls import include, path
from rest_framework.response import Response

from dci.api.base import DciView


class WhoAmI(DciView):
    query_parameters = {"verbose"}

    def get(self, request):
        return Response({"email": request.user.email, "auth": type(request.auth).__name__})

    def post(self, request):
        return self.get(request)


urlpatterns = [
    path("test/dci/whoami", WhoAmI.as_view()),
    path("", include("panel.urls")),
]

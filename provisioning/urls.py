from django.urls import path

from provisioning import views

app_name = "boot"
urlpatterns = [
    path("ipxe", views.ipxe_script, name="ipxe"),
    path("config/<str:secret>", views.installer_config, name="config"),
    path("config/<str:secret>/user-data", views.installer_config, name="user-data"),
    path("config/<str:secret>/meta-data", views.meta_data, name="meta-data"),
    path("events/<str:secret>", views.installer_event, name="events"),
    path("images/<str:name>", views.agent_image_file, name="images"),
    path("disks/<str:secret>/<str:disk>/<str:index>", views.disk_piece, name="disks"),
]

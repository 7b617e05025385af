from network.api import views

SWITCH_VIEWSET = views.DiscoveredSwitchViewSet
PDU_VIEWSET = views.DiscoveredPduViewSet

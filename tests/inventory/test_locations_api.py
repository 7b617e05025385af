"""Locations: everyone signed in reads them (customers pick where to buy); none writes here."""

from inventory.models import Location


def test_anonymous_gets_401(anonymous_api, db):
    place = Location.objects.create(name="AMS1")
    assert anonymous_api.get("/api/v1/locations/").status_code == 401
    assert anonymous_api.get(f"/api/v1/locations/{place.pk}/").status_code == 401


def test_customers_and_staff_read_every_location(owner_api, other_api, admin_api):
    ams = Location.objects.create(name="AMS1", address="Science Park 1, Amsterdam")
    Location.objects.create(name="FRA2")
    for api in (owner_api, other_api, admin_api):
        listed = api.get("/api/v1/locations/")
        assert listed.status_code == 200
        assert [row["name"] for row in listed.json()["results"]] == ["AMS1", "FRA2"]
        one = api.get(f"/api/v1/locations/{ams.pk}/")
        assert one.json() == {"id": ams.pk, "name": "AMS1", "address": "Science Park 1, Amsterdam"}


def test_locations_are_read_only(owner_api, admin_api):
    place = Location.objects.create(name="AMS1")
    for api in (owner_api, admin_api):
        assert api.post("/api/v1/locations/", {"name": "X"}, format="json").status_code == 405
        assert api.delete(f"/api/v1/locations/{place.pk}/").status_code == 405
    assert Location.objects.count() == 1


def test_a_search_by_name_and_an_unknown_id(owner_api):
    Location.objects.create(name="AMS1")
    Location.objects.create(name="FRA2")
    assert owner_api.get("/api/v1/locations/?search=fra").json()["count"] == 1
    assert owner_api.get("/api/v1/locations/999999/").status_code == 404


def test_listing_locations_costs_a_bounded_number_of_queries(
    owner_api, django_assert_max_num_queries
):
    Location.objects.bulk_create(Location(name=f"DC{number}") for number in range(30))
    with django_assert_max_num_queries(5):
        assert owner_api.get("/api/v1/locations/").json()["count"] == 30

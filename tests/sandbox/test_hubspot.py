"""The stand-in HubSpot, spoken to by the real `hubspot-api-client` (only the host differs)."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsError
from hubspot.crm.companies.exceptions import ApiException as CompaniesError
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.contacts.exceptions import ApiException as ContactsError
from hubspot.crm.deals.exceptions import ApiException as DealsError
from hubspot.crm.objects.emails.exceptions import ApiException as EmailsError
from hubspot.crm.objects.exceptions import ApiException as ObjectsError
from hubspot.crm.objects.meetings.exceptions import ApiException as MeetingsError

from growthlab.sandbox import store
from growthlab.sandbox.timeutil import iso_ms

# Each API module of the client has its own exception class.
ApiException = (
    ContactsError,
    CompaniesError,
    DealsError,
    ObjectsError,
    MeetingsError,
    EmailsError,
    AssociationsError,
)
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _count(sandbox, sql: str) -> int:
    with store.open_db(sandbox.database_url, autocommit=True) as conn:
        return conn.execute(sql).fetchone()[0]


def _page_all(api, **kwargs) -> list:
    out, after = [], None
    while True:
        page = api.get_page(limit=100, after=after, **kwargs)
        out.extend(page.results)
        if page.paging is None or page.paging.next is None:
            return out
        after = page.paging.next.after


@pytest.mark.parametrize("object_name", ["contacts", "companies", "deals", "meetings", "emails"])
def test_client_pages_through_every_object_and_finds_the_whole_world(sandbox, object_name):
    client = sandbox.hubspot_client()
    api = {
        "contacts": client.crm.contacts.basic_api,
        "companies": client.crm.companies.basic_api,
        "deals": client.crm.deals.basic_api,
        "meetings": client.crm.objects.meetings.basic_api,
        "emails": client.crm.objects.emails.basic_api,
    }[object_name]
    records = _page_all(api)
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids))
    assert len(ids) == _count(sandbox, f"select count(*) from hubspot.{object_name} where not archived")
    if object_name == "contacts":
        # ... which is the world's truth: every simulated contact is in the portal.
        assert len(ids) == _count(sandbox, "select count(*) from world.contacts")


def test_records_look_like_hubspot_records(sandbox):
    client = sandbox.hubspot_client()
    page = client.crm.contacts.basic_api.get_page(
        limit=5,
        properties=["email", "lifecyclestage", "hs_email_optout", "hubspot_owner_id", "createdate"],
        associations=["companies"],
    )
    for record in page.results:
        assert all(isinstance(v, str) or v is None for v in record.properties.values())
        assert ISO_MS.match(record.properties["createdate"])
        assert record.properties["hs_email_optout"] in ("true", "false")
        assert record.properties["hs_object_id"] == record.id
        assert record.archived is False
        company = record.associations["companies"].results
        assert {a.type for a in company} == {"contact_to_company", "contact_to_company_unlabeled"}
    company = client.crm.companies.basic_api.get_by_id(
        page.results[0].associations["companies"].results[0].id,
        properties=[
            "cleantech_segment",
            "numberofemployees",
            "sbti_status",
            "certifications",
            "annualrevenue",
        ],
    )
    assert company.properties["numberofemployees"].isdigit()
    assert company.properties["cleantech_segment"] in [
        "solar",
        "wind",
        "storage",
        "ev_charging",
        "hydrogen",
        "heat_pumps",
        "carbon_management",
        "circular_materials",
        "grid_software",
        "building_efficiency",
    ]
    owners = client.crm.owners.owners_api.get_page(limit=100).results
    assert {o.id for o in owners} >= {record.properties["hubspot_owner_id"] for record in page.results}


def test_search_on_lastmodifieddate_returns_exactly_the_changed_records(sandbox):
    client = sandbox.hubspot_client(retry_429=True)
    before = client.api_request({"method": "GET", "path": "/__sandbox__/clock"}).json()["now"]
    targets = [r.id for r in client.crm.contacts.basic_api.get_page(limit=7, after="300").results]
    client.crm.contacts.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(
                    id=i, properties={"growthlab_score": "87", "growthlab_grade": "A"}
                )
                for i in targets
            ]
        )
    )
    found, after = [], None
    while True:
        result = client.crm.contacts.search_api.do_search(
            PublicObjectSearchRequest(
                filter_groups=[
                    FilterGroup(
                        filters=[Filter(property_name="lastmodifieddate", operator="GTE", value=before)]
                    )
                ],
                properties=["growthlab_score", "growthlab_grade"],
                sorts=["lastmodifieddate"],
                limit=3,
                after=after,
            )
        )
        found.extend(result.results)
        if result.paging is None:
            break
        after = result.paging.next.after
    assert sorted(r.id for r in found) == sorted(targets)
    assert result.total == len(targets)
    assert {r.properties["growthlab_score"] for r in found} == {"87"}


def test_search_filters_sorts_and_limits(sandbox):
    client = sandbox.hubspot_client(retry_429=True)
    search = client.crm.companies.search_api.do_search
    solar = search(
        PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[Filter(property_name="cleantech_segment", operator="EQ", value="solar")]
                ),
                FilterGroup(
                    filters=[
                        Filter(
                            property_name="numberofemployees",
                            operator="BETWEEN",
                            value="100",
                            high_value="500",
                        ),
                        Filter(
                            property_name="sbti_status", operator="IN", values=["targets_set", "committed"]
                        ),
                    ]
                ),
            ],
            properties=["cleantech_segment", "numberofemployees", "sbti_status"],
            sorts=[{"propertyName": "numberofemployees", "direction": "DESCENDING"}],
            limit=200,
        )
    )
    assert solar.total == _count(
        sandbox,
        "select count(*) from hubspot.companies where cleantech_segment = 'solar' "
        "or (numberofemployees between 100 and 500 and sbti_status in ('targets_set', 'committed'))",
    )
    sizes = [int(r.properties["numberofemployees"]) for r in solar.results]
    assert sizes == sorted(sizes, reverse=True)
    for bad, message in (
        ({"limit": 201}, "limit"),
        ({"after": "10000"}, "10000"),
        (
            {"filterGroups": [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}]}] * 6},
            "filter groups",
        ),
        (
            {"filterGroups": [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}] * 11}]},
            "filters",
        ),
        ({"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}]}, "nope"),
    ):
        with pytest.raises(ApiException) as err:
            search(bad)
        assert err.value.status == 400
        body = json.loads(err.value.body)
        assert body["category"] == "VALIDATION_ERROR" and message in body["message"]


def test_search_stops_at_ten_thousand_results(sandbox_factory):
    sb = sandbox_factory(seed=3, size=60, rate_limits=False)
    with store.open_db(sb.database_url, autocommit=True) as conn:
        conn.execute(
            "insert into hubspot.meetings (id, created_at, updated_at, hs_meeting_title) "
            "select 50000000000 + g, now(), now(), 'bulk ' || g from generate_series(1, 10150) g"
        )
    client = sb.hubspot_client()
    seen, after, pages = 0, None, 0
    while True:
        page = client.crm.objects.meetings.search_api.do_search(
            {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "hs_meeting_title",
                                "operator": "CONTAINS_TOKEN",
                                "value": "bulk*",
                            }
                        ]
                    }
                ],
                "limit": 200,
                "after": after,
            }
        )
        seen += len(page.results)
        pages += 1
        if page.paging is None:
            break
        after = page.paging.next.after
    assert page.total == 10150
    assert seen == 10000 and pages == 50


def test_batch_read_update_upsert_follow_hubspot_rules(sandbox):
    client = sandbox.hubspot_client()
    batch = client.crm.contacts.batch_api
    ids = [r.id for r in client.crm.contacts.basic_api.get_page(limit=3, after="500").results]
    read = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in [*ids, "999999999"]],
            properties=["email"],
            properties_with_history=[],
        )
    )
    assert sorted(r.id for r in read.results) == sorted(ids)
    assert read.errors[0].category == "OBJECT_NOT_FOUND"  # 207 multi-status with the missing id
    with pytest.raises(ApiException) as err:
        batch.read(
            BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=str(i)) for i in range(101)],
                properties=[],
                properties_with_history=[],
            )
        )
    assert err.value.status == 400 and "100" in json.loads(err.value.body)["message"]
    with pytest.raises(ApiException) as err:
        batch.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[
                    SimplePublicObjectBatchInput(
                        id=ids[0], properties={"growthlab_grade": "Z", "no_such_prop": "1"}
                    )
                ]
            )
        )
    body = json.loads(err.value.body)
    assert (
        err.value.status == 400
        and "PROPERTY_DOESNT_EXIST" in body["message"]
        and "INVALID_OPTION" in body["message"]
    )
    existing = read.results[0].properties["email"]
    upserted = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id=existing, id_property="email", properties={"jobtitle": "Head of Energy"}
                ),
                SimplePublicObjectBatchInputUpsert(
                    id="new.person@upsert-test.example", id_property="email", properties={"firstname": "New"}
                ),
            ]
        )
    )
    by_new = {r.new: r for r in upserted.results}
    assert by_new[False].id == read.results[0].id
    assert by_new[True].properties["email"] == "new.person@upsert-test.example"


def test_tokens_and_scopes(sandbox):
    url = f"{sandbox.hubspot_url}/crm/v3/objects/contacts"
    assert httpx.get(url).status_code == 401
    wrong = httpx.get(url, headers={"Authorization": "Bearer pat-na1-wrong"})
    assert wrong.status_code == 401 and wrong.json()["category"] == "INVALID_AUTHENTICATION"
    readonly = sandbox.hubspot_client(sandbox.hubspot_readonly_token)
    first = readonly.crm.contacts.basic_api.get_page(limit=1).results[0]
    with pytest.raises(ApiException) as err:
        readonly.crm.contacts.basic_api.update(first.id, {"properties": {"growthlab_grade": "B"}})
    assert err.value.status == 403
    body = json.loads(err.value.body)
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.write"]


def test_rate_limit_headers_and_429_seen_by_the_client(sandbox):
    client = sandbox.hubspot_client()
    response = client.api_request({"method": "GET", "path": "/crm/v3/objects/deals", "qs": {"limit": 1}})
    assert response.status_code == 200
    for header in ("Max", "Remaining", "Interval-Milliseconds", "Daily", "Daily-Remaining"):
        assert f"X-HubSpot-RateLimit-{header}" in response.headers
    assert response.headers["X-HubSpot-RateLimit-Max"] == "190"
    search = {"filterGroups": [], "limit": 1}
    with sandbox.faults(burst_429=2):
        for _ in range(2):
            with pytest.raises(ApiException) as err:
                client.crm.deals.search_api.do_search(search)
            assert err.value.status == 429
            assert int(err.value.headers["Retry-After"]) >= 1
            assert "X-HubSpot-RateLimit-Remaining" in err.value.headers
            body = json.loads(err.value.body)
            assert body["errorType"] == "RATE_LIMIT" and body["correlationId"]
        assert client.crm.deals.search_api.do_search(search).results  # the burst is over
    # GETs: the client's default urllib3 retry honours Retry-After and gets through.
    with sandbox.faults(burst_429=1):
        assert client.crm.deals.basic_api.get_page(limit=1).results
        assert sandbox.servers.injectors["hubspot"].decide() is None  # the burst was consumed


def test_the_real_rolling_window_limit(sandbox_factory):
    sb = sandbox_factory(seed=4, size=60, rate_limits={"per_10s": 4, "search_per_s": 2})
    client = sb.hubspot_client()

    def get():
        return client.api_request({"method": "GET", "path": "/crm/v3/objects/contacts"})

    remaining = [get().headers["X-HubSpot-RateLimit-Remaining"] for _ in range(4)]
    assert remaining == ["3", "2", "1", "0"]
    refused = get()
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10


def test_faults_5xx_drop_malformed(sandbox):
    client = sandbox.hubspot_client()
    with sandbox.faults(error_5xx=1.0):
        with pytest.raises(ApiException) as err:
            client.crm.contacts.basic_api.get_page(limit=1)
        assert err.value.status in (500, 502, 503)
    with sandbox.faults(drop=1.0), pytest.raises(httpx.TransportError):
        httpx.get(
            f"{sandbox.hubspot_url}/crm/v3/objects/contacts",
            headers={"Authorization": f"Bearer {sandbox.hubspot_token}"},
        )
    with sandbox.faults(malformed=True):
        first = client.crm.contacts.basic_api.get_page(limit=2, properties=["email", "createdate"]).results
        assert first[0].properties["email"] == "not-an-email"
        assert first[1].properties["email"] != "not-an-email"
    assert client.crm.contacts.basic_api.get_page(limit=1).results[0].properties["email"] != "not-an-email"


def test_faults_can_be_set_through_the_admin_endpoint(sandbox):
    url = f"{sandbox.hubspot_url}/__sandbox__/faults"
    assert httpx.put(url, json={"burst_429": 1}).status_code == 401
    admin = {"Authorization": f"Bearer {sandbox.admin_token}"}
    assert httpx.put(url, json={"burst_429": 1}, headers=admin).json()["burst_429"] == 1
    auth = {"Authorization": f"Bearer {sandbox.hubspot_token}"}
    assert httpx.get(f"{sandbox.hubspot_url}/crm/v3/objects/deals", headers=auth).status_code == 429
    assert httpx.put(url, json={}, headers=admin).status_code == 200
    assert httpx.get(f"{sandbox.hubspot_url}/crm/v3/objects/deals", headers=auth).status_code == 200


def test_associations_v4(sandbox):
    client = sandbox.hubspot_client()
    deal = client.crm.deals.basic_api.get_page(limit=1).results[0]
    contacts = client.crm.associations.v4.basic_api.get_page("deals", deal.id, "contacts").results
    assert len(contacts) == 1 and contacts[0].association_types[0].type_id == 3
    batch = client.crm.associations.v4.batch_api.get_page(
        "contacts", "companies", {"inputs": [{"id": contacts[0].to_object_id}]}
    )
    types = {t.type_id for t in batch.results[0].to[0].association_types}
    assert types == {1, 279}


def test_create_meeting_with_association_and_archive(sandbox):
    client = sandbox.hubspot_client()
    contact = client.crm.contacts.basic_api.get_page(limit=1, after="700").results[0]
    clock = client.api_request({"method": "GET", "path": "/__sandbox__/clock"}).json()["clock"]
    start = iso_ms(
        __import__("datetime").datetime.fromisoformat(clock.replace("Z", "+00:00"))
        + timedelta(days=3, hours=15)
    )
    meeting = client.crm.objects.meetings.basic_api.create(
        {
            "properties": {
                "hs_meeting_title": "Test call",
                "hs_timestamp": start,
                "hs_meeting_start_time": start,
                "hs_meeting_outcome": "SCHEDULED",
            },
            "associations": [
                {
                    "to": {"id": contact.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 200}],
                }
            ],
        }
    )
    linked = client.crm.associations.v4.basic_api.get_page("contacts", contact.id, "meetings").results
    assert meeting.id in {str(a.to_object_id) for a in linked}
    client.crm.objects.meetings.basic_api.archive(meeting.id)
    with pytest.raises(ApiException) as err:
        client.crm.objects.meetings.basic_api.get_by_id(meeting.id)
    assert err.value.status == 404
    archived = client.crm.objects.meetings.basic_api.get_by_id(meeting.id, archived=True)
    assert archived.archived is True


def test_email_events_api_through_api_request(sandbox):
    client = sandbox.hubspot_client()
    events, offset, pages = [], None, 0
    while True:
        qs = {"limit": 1000, **({"offset": offset} if offset else {})}
        response = client.api_request({"method": "GET", "path": "/email/public/v1/events", "qs": qs})
        assert response.status_code == 200
        page = response.json()
        events.extend(page["events"])
        pages += 1
        if not page["hasMore"]:
            break
        offset = page["offset"]
    assert len(events) == _count(sandbox, "select count(*) from hubspot.email_events") and pages > 1
    assert len({e["id"] for e in events}) == len(events)
    kinds = {e["type"] for e in events}
    assert {"SENT", "DELIVERED", "OPEN", "CLICK", "STATUSCHANGE"} <= kinds
    opens = [e for e in events if e["type"] == "OPEN"]
    assert any(e["filteredEvent"] for e in opens) and not all(e["filteredEvent"] for e in opens)
    assert all(e["url"].startswith("https://") for e in events if e["type"] == "CLICK")
    unsubscribes = [e for e in events if e["type"] == "STATUSCHANGE"]
    assert unsubscribes[0]["subscriptions"][0]["status"] in ("UNSUBSCRIBED", "SPAM_REPORT")
    created = [e["created"] for e in events]
    assert created == sorted(created)
    filtered = client.api_request(
        {"method": "GET", "path": "/email/public/v1/events", "qs": {"eventType": "CLICK", "limit": 1000}}
    ).json()
    assert {e["type"] for e in filtered["events"]} == {"CLICK"}


def test_owner_calendar(sandbox):
    client = sandbox.hubspot_client()
    owner = client.crm.owners.owners_api.get_page().results[0]
    calendar = client.api_request({"method": "GET", "path": f"/sandbox/v1/owners/{owner.id}/calendar"}).json()
    assert calendar["timezone"] and calendar["workingHours"]["monday"]
    assert calendar["busy"] and all(b["start"] < b["end"] for b in calendar["busy"])


def test_tasks_for_owners_as_campaign_follow_ups_create_them(sandbox):
    from hubspot.crm.objects.tasks import (
        AssociationSpec,
        PublicAssociationsForObject,
        PublicObjectId,
        SimplePublicObjectInputForCreate,
    )

    client = sandbox.hubspot_client()
    contact = client.crm.contacts.basic_api.get_page(
        limit=1, after="800", properties=["hubspot_owner_id"]
    ).results[0]
    task = client.crm.objects.tasks.basic_api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties={
                "hs_task_subject": "Reply from a campaign",
                "hs_task_body": "They asked for pricing. [growthlab:reply:123]",
                "hs_timestamp": "2026-09-01T09:00:00.000Z",
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": "HIGH",
                "hs_task_type": "EMAIL",
                "hubspot_owner_id": contact.properties["hubspot_owner_id"],
            },
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id=contact.id),
                    types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=204)],
                )
            ],
        )
    )
    assert task.properties["hs_task_priority"] == "HIGH"
    linked = client.crm.associations.v4.basic_api.get_page("contacts", contact.id, "tasks").results
    assert task.id in {str(a.to_object_id) for a in linked} and linked[0].association_types[0].type_id == 203

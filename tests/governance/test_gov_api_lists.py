"""The scoped list pages are answered without re-validating rows through the response model (decision 0106):
their bytes must stay exactly what the validated ``response_model`` path produced, on both stores. Callers use
access tokens of the test bed's real Keycloak realm."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from gov_world import DAY, HN, IT, STAFF
from pydantic import TypeAdapter

from bridge.interfaces.api.deps import api_state
from bridge.interfaces.api.schemas import GrantPublic, PersonPublic
from bridge.services import grants, persons
from bridge.services.context import GovContext, load_actor
from tests.api_overrides import serve_store

if TYPE_CHECKING:
    from conftest import Seeded
    from gov_realm import Realm

pytestmark = pytest.mark.integration


def _validated(model: type[Any], rows: Any) -> bytes:
    """What FastAPI's response_model path serialises: validate from attributes, then dump JSON."""
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
    return adapter.dump_json(adapter.validate_python(list(rows), from_attributes=True))


@pytest.mark.parametrize("caller", [IT, HN, STAFF])
@pytest.mark.parametrize("active_only", [True, False])
def test_list_pages_match_the_response_model(seeded: Seeded, realm: Realm, caller: str, active_only: bool) -> None:
    state = api_state(seeded.app)
    with seeded.clone() as store, TestClient(seeded.app) as client:
        serve_store(seeded.app, store.factory)
        revoked = client.post(
            f"/grants/{seeded.world.grant_a}/revoke", headers={"Authorization": f"Bearer {realm.token(HN)}"}
        )
        assert revoked.status_code == 200, revoked.text
        headers = {"Authorization": f"Bearer {realm.token(caller)}"}
        grant_page = client.get("/grants", params={"limit": 1000, "active_only": active_only}, headers=headers)
        person_page = client.get("/persons", params={"limit": 1000}, headers=headers)
        ctx = GovContext(state.units, state.catalogue, state.directory, DAY)
        with store.factory() as session:
            actor = load_actor(session, email=caller)
            expected_grants = _validated(
                GrantPublic, grants.list_grants(session, ctx=ctx, actor=actor, active_only=active_only, limit=1000)
            )
            expected_persons = _validated(PersonPublic, persons.list_persons(session, ctx=ctx, actor=actor, limit=1000))
    assert grant_page.status_code == 200 and person_page.status_code == 200
    assert grant_page.headers["content-type"] == "application/json"
    assert grant_page.json(), "the seeded world has grants in every caller's view"
    assert grant_page.content == expected_grants
    assert person_page.content == expected_persons
    revoked_rows = [row for row in grant_page.json() if row["revoked_at"]]
    assert bool(revoked_rows) == (caller in (IT, HN) and not active_only)
    assert all(row["revoked_by"] == HN for row in revoked_rows)


def test_list_routes_keep_their_response_schema(seeded: Seeded) -> None:
    with TestClient(seeded.app) as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path, model in (("/grants", "GrantPublic"), ("/persons", "PersonPublic")):
        schema = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["items"]["$ref"].endswith(f"/{model}")

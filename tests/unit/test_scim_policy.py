"""The HR-system actor of the scope policy and the SCIM clients of realm.yaml (pure, no servers)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from bridge.domain.policy import Action, AdminRole, Target, decide, hr_system_actor
from bridge.domain.realm_plan import scim_clients
from bridge.domain.units import load_units

CONFIG = Path(__file__).resolve().parents[2] / "keycloak-config"
UNITS = load_units(CONFIG / "units.yaml")
DAY = dt.date(2025, 10, 1)


def _decide(actor_unit: str, action: Action, target: Target) -> tuple[bool, str]:
    actor = hr_system_actor("scim-hr-x", actor_unit, UNITS, DAY)
    found = decide(actor, action, target, DAY, UNITS, it_center_unit="00012")
    return found.allowed, found.rule


def test_a_province_hr_system_acts_as_its_province_administrator() -> None:
    actor = hr_system_actor("scim-hr-01000", "01000", UNITS, DAY)
    assert (actor.email, actor.role, actor.unit_code) == ("scim:scim-hr-01000", AdminRole.PROVINCE_ADMIN, "01000")
    branch = hr_system_actor("scim-hr-01001", "01001", UNITS, DAY)  # a branch's HR system: its province's scope
    assert branch.unit_code == "01000"


def test_own_province_only_and_never_an_administrator_account() -> None:
    assert _decide("01000", Action.LOCK, Target(email="a@hanoi.vss.gov.vn", unit_code="01002"))[0] is True
    allowed, rule = _decide("01000", Action.LOCK, Target(email="b@hcm.vss.gov.vn", unit_code="79001"))
    assert (allowed, rule) == (False, "R5-province-out-of-scope")
    allowed, _ = _decide("01000", Action.LOCK, Target(email="c@hanoi.vss.gov.vn", unit_code="01002",
                                                      administrator=True))  # fmt: skip
    assert allowed is False


def test_the_it_centers_hr_client_acts_with_central_scope() -> None:
    """Issue 15: the central HR system (a client of the IT Center's unit) locks central units' staff (R1) and
    nobody of a province (R7); decide() is unchanged, the actor carries the IT Center's role."""
    actor = hr_system_actor("scim-hr-00012", "00012", UNITS, DAY, it_center_unit="00012")
    assert (actor.email, actor.role, actor.unit_code) == ("scim:scim-hr-00012", AdminRole.IT_CENTER_ADMIN, "00012")
    central = decide(actor, Action.LOCK, Target(email="d@vss.gov.vn", unit_code="00002"), DAY, UNITS,
                     it_center_unit="00012")  # fmt: skip
    assert (central.allowed, central.rule) == (True, "R1-it-center-central")
    province = decide(actor, Action.LOCK, Target(email="a@hanoi.vss.gov.vn", unit_code="01002"), DAY, UNITS,
                      it_center_unit="00012")  # fmt: skip
    assert (province.allowed, province.rule) == (False, "R7-province-delegated")
    # without the IT Center's unit given, or for another central unit, it stays plain staff
    assert hr_system_actor("scim-hr-00012", "00012", UNITS, DAY).role is None
    assert hr_system_actor("scim-hr-00002", "00002", UNITS, DAY, it_center_unit="00012").role is None


def test_a_client_of_a_central_or_unknown_unit_acts_as_plain_staff() -> None:
    for unit in ("00002", "99999"):
        actor = hr_system_actor("scim-hr-x", unit, UNITS, DAY)
        assert actor.role is None
        assert _decide(unit, Action.LOCK, Target(email="a@hanoi.vss.gov.vn", unit_code="01002"))[0] is False


def test_realm_yaml_scim_clients_carry_the_audience_and_one_unit() -> None:
    spec = yaml.safe_load((CONFIG / "realm.yaml").read_text(encoding="utf-8"))
    clients = {c["clientId"]: c for c in scim_clients(spec)}
    assert set(clients) == {"scim-hr-01000", "scim-hr-79000", "scim-hr-00012"}
    hanoi = clients["scim-hr-01000"]
    assert hanoi["serviceAccountsEnabled"] is True
    assert not (hanoi["standardFlowEnabled"] or hanoi["directAccessGrantsEnabled"] or hanoi["implicitFlowEnabled"])
    mappers = {m["protocolMapper"]: m["config"] for m in hanoi["protocolMappers"]}
    assert mappers["oidc-audience-mapper"]["included.custom.audience"] == "bhxh-bridge-scim"
    assert mappers["oidc-hardcoded-claim-mapper"] == {**mappers["oidc-hardcoded-claim-mapper"],
                                                      "claim.name": "scim_unit", "claim.value": "01000"}  # fmt: skip
    assert scim_clients({}) == ()

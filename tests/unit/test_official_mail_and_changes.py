"""Pure rules of issue 14 part B: official e-mail domains in the sync, exception accounts left to their own
service, the report's vocabulary of account changes, and the realm's SMTP settings as code."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.adapters.directory.ldap import DirectoryEntry, DirectoryRead
from bridge.adapters.keycloak.actual import ActualState, ActualUser
from bridge.domain.realm_plan import ActualRealm, LdapConnection, SmtpConnection, desired_realm, plan_realm
from bridge.domain.reports.changes import (
    LABELS,
    REMOVING,
    ChangeKind,
    change_kind,
    console_change,
    section_of,
    sync_change,
)
from bridge.domain.reports.model import ADDED, REMOVED
from bridge.domain.sync.desired import desired_state, official_mail
from bridge.domain.sync.planner import OpKind, Reason, plan
from bridge.domain.units import UnitTree, parse_units
from bridge.services.exception_accounts import split_name
from bridge.settings import PROJECT_ROOT

DAY = dt.date(2025, 11, 3)
CONFIG = PROJECT_ROOT / "keycloak-config"


def entry(mail: str, unit: str, n: int) -> DirectoryEntry:
    return DirectoryEntry(dn=f"uid=bh{n:07d},ou=people", mail=mail, uid=f"bh{n:07d}", display_name="Nguyễn Văn An",
                          unit_code=unit, title="Chuyên viên", employee_number=f"BH{n:07d}")  # fmt: skip


def test_official_domains_are_the_central_the_listed_the_provinces_and_the_providers_declared(units: UnitTree) -> None:
    domains = units.official_domains()
    assert {"vss.gov.vn", "bhxh.gov.vn", "hanoi.vss.gov.vn", "vnpost.vn", "vnpost.com.vn"} <= domains
    assert "gmail.com" not in domains
    assert official_mail("an.nv@HANOI.vss.gov.vn".lower(), domains)
    assert not official_mail("an.nv@sub.hanoi.vss.gov.vn", domains), "exactly a listed domain, not a subdomain"
    assert not official_mail("an.nv@vss.gov.vn.evil.com", domains)


def test_units_yaml_takes_official_domains_and_declared_domains_as_lists() -> None:
    tree = parse_units(
        "realm: r\ncentral_domain: c.vn\nofficial_domains: [x.vn, y.vn]\nunits:\n"
        "- {code: '0', name: Gốc, type: root, valid_from: '2020-01-01'}\n"
        "- {code: P1, name: Nhà cung cấp, type: provider, parent: '0', valid_from: '2020-01-01', mail_domain: p.vn,"
        " mail_domains: [p2.vn, p3.vn]}\n"
    )
    assert tree.official_domains() == frozenset({"c.vn", "x.vn", "y.vn", "p.vn", "p2.vn", "p3.vn"})


def test_an_entry_outside_the_official_domains_is_rejected_by_dn_and_its_existing_account_is_a_leaver(
    units: UnitTree,
) -> None:
    province = next(u for u in units.on(DAY).values() if u.type.value == "province" and u.mail_domain)
    ok, outside = entry(f"an@{province.mail_domain}", province.code, 1), entry("binh@gmail.com", province.code, 2)
    desired = desired_state(DirectoryRead(entries=[ok, outside]), units, day=DAY)
    assert list(desired.people) == [ok.mail]
    [rejected] = desired.rejected
    assert rejected.dn == outside.dn and "gmail.com" in rejected.reason and rejected.mail == outside.mail
    assert desired.uncertain == frozenset(), "a known-unofficial mail is not an unknown state"
    group = units.group_path(province.code, DAY)
    actual = ActualState(users={
        ok.mail: ActualUser("u1", ok.mail, True, frozenset({group})),
        outside.mail: ActualUser("u2", outside.mail, True, frozenset({group})),
    })  # fmt: skip
    ops = plan(desired, actual, holds=(), day=DAY)
    assert [(o.kind, o.reason, o.mail) for o in ops] == [(OpKind.DISABLE, Reason.LEAVER, outside.mail)]


def test_exception_accounts_are_never_leavers_of_the_sync(units: UnitTree) -> None:
    province = next(u for u in units.on(DAY).values() if u.type.value == "province" and u.mail_domain)
    staff = entry(f"an@{province.mail_domain}", province.code, 1)
    desired = desired_state(DirectoryRead(entries=[staff]), units, day=DAY)
    group = units.group_path(province.code, DAY)
    actual = ActualState(users={
        staff.mail: ActualUser("u1", staff.mail, True, frozenset({group})),
        "khach@congty.vn": ActualUser("u2", "khach@congty.vn", True, frozenset({group})),
    })  # fmt: skip
    assert [o.mail for o in plan(desired, actual, holds=(), day=DAY)] == ["khach@congty.vn"]
    assert plan(desired, actual, holds=(), day=DAY, elsewhere={"khach@congty.vn"}) == []


@pytest.mark.parametrize(
    ("action", "outcome", "rule", "detail", "kind"),
    [
        ("grant", "allowed", "R4", {}, ChangeKind.ROLE_GRANTED),
        ("revoke", "allowed", "R4", {}, ChangeKind.ROLE_REVOKED),
        ("revoke", "allowed", "L5", {"reason": "transferred"}, ChangeKind.ROLE_ENDED_BY_TRANSFER),
        ("lock", "allowed", "L1", {"reason_code": "maternity"}, ChangeKind.LOCKED),
        ("lock", "allowed", "L1", {"reason_code": "exception_ended"}, ChangeKind.EXCEPTION_ENDED),
        ("unlock", "allowed", "L2", {}, ChangeKind.REINSTATED),
        ("unlock", "refused", "L3", {}, None),
        ("exception_account.create", "allowed", "X1", {}, ChangeKind.EXCEPTION_CREATED),
        ("sync.ensure", "allowed", "sync-joiner", {"change": "joiner"}, ChangeKind.JOINER),
        ("sync.ensure", "allowed", "sync-reorganisation", {}, ChangeKind.JOINER),
        ("sync.disable", "allowed", "sync-leaver", {}, ChangeKind.LEAVER),
        ("sync.disable", "allowed", "sync-hold", {"change": None}, None),
        ("sync.enable", "allowed", "sync-returner", {}, ChangeKind.RETURNER),
        ("sync.move", "allowed", "sync-reorganisation", {}, ChangeKind.UNIT_MOVE),
        ("console:lock", "allowed", "R4", {"reverted": False}, ChangeKind.CONSOLE_ACCEPTED),
        ("console:lock", "refused", "R5", {"reverted": True}, ChangeKind.CONSOLE_REVERTED),
        ("approval.approve", "allowed", "R14", {}, None),
    ],
)
def test_ledger_rows_are_read_in_the_reports_vocabulary(
    action: str, outcome: str, rule: str, detail: dict[str, object], kind: ChangeKind | None
) -> None:
    assert change_kind(action, outcome, rule, detail) is kind


def test_every_change_kind_has_a_label_and_a_section() -> None:
    assert set(LABELS) == set(ChangeKind)
    assert all(section_of(k) == REMOVED for k in REMOVING)
    assert section_of(ChangeKind.JOINER) == ADDED and section_of(ChangeKind.EXCEPTION_CREATED) == ADDED
    assert section_of(ChangeKind.CONSOLE_REVERTED, "console:lock") == REMOVED
    assert section_of(ChangeKind.CONSOLE_ACCEPTED, "console:unlock") == ADDED
    assert sync_change("disable", "hold") is None and sync_change("disable", "leaver") is ChangeKind.LEAVER
    assert console_change(allowed=True, reverted=False) is ChangeKind.CONSOLE_ACCEPTED


def test_the_realm_sends_mail_through_the_deployments_smtp_server_and_never_compares_its_password(
    units: UnitTree,
) -> None:
    def desired(smtp: SmtpConnection | None):  # type: ignore[no-untyped-def]
        return desired_realm(
            realm_yaml=(CONFIG / "realm.yaml").read_text(encoding="utf-8"), units=units, apps=(),
            ldap=LdapConnection("ldap://x", "cn=r", "s", "ou=people"), bridge_client_id="b",
            bridge_client_secret="s", day=DAY, smtp=smtp,
        )  # fmt: skip

    assert "smtpServer" not in desired(None).realm
    with_auth = desired(SmtpConnection("mail.vss.gov.vn", 587, "relay", "secret"))
    server = with_auth.realm["smtpServer"]
    assert server["host"] == "mail.vss.gov.vn" and server["port"] == "587" and server["auth"] == "true"
    assert server["from"] == "no-reply@vss.gov.vn" and server["starttls"] == "false"
    actual = ActualRealm(exists=True, realm={**with_auth.realm, "smtpServer": {**server, "password": "**********"}})
    assert [c for c in plan_realm(with_auth, actual) if c.kind == "realm"] == []
    moved = ActualRealm(exists=True, realm={**with_auth.realm, "smtpServer": {**server, "port": "25"}})
    [change] = [c for c in plan_realm(with_auth, moved) if c.kind == "realm"]
    assert change.fields == ("smtpServer.port",)


def test_a_vietnamese_full_name_splits_family_name_first() -> None:
    assert split_name("Trần  Thị Khách") == ("Trần", "Thị Khách")
    assert split_name("Khách") == ("Khách", "Khách")

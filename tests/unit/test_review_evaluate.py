"""The review's pure core: each of the six checks on hand-made facts, and the unit filter."""

from __future__ import annotations

import datetime as dt

from bridge.adapters.directory.lookup import DirectoryPerson, SnapshotDirectory
from bridge.adapters.keycloak.account_facts import AccountFacts, KcSession, KcUser
from bridge.services.reports.review import Finding, FindingKind, StoreFacts, evaluate

TODAY = dt.date(2026, 11, 23)
OLD = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
DIRECTORY = SnapshotDirectory(
    [
        DirectoryPerson("a@hanoi.vss.gov.vn", "Nguyễn Văn A", "01001"),
        DirectoryPerson("b@hanoi.vss.gov.vn", "Trần Thị B", "01002"),
        DirectoryPerson("gone@hanoi.vss.gov.vn", "Lê Văn C", "01002", active=False),
        DirectoryPerson("admin@hanoi.vss.gov.vn", "Phạm Văn D", "01000"),
        DirectoryPerson("x@hcm.vss.gov.vn", "Võ Thị E", "79001"),
    ]
)


def _user(uid: str, email: str, **kw: object) -> KcUser:
    return KcUser(id=uid, username=email, email=email, enabled=True, created=OLD, **kw)  # type: ignore[arg-type]


def _review(unused_days: int = 30, covers: str = "01") -> list[Finding]:
    facts = AccountFacts(
        users=[
            _user("ua", "a@hanoi.vss.gov.vn"),
            _user("ub", "b@hanoi.vss.gov.vn"),
            _user("ug", "gone@hanoi.vss.gov.vn"),
            _user("ud", "admin@hanoi.vss.gov.vn", required_actions=("CONFIGURE_TOTP",)),
            _user("ux", "x@hcm.vss.gov.vn"),
            _user("un", "nobody@hanoi.vss.gov.vn", unit_code="01003"),
        ],
        memberships={("TST", "operator"): {"ua", "ub", "ux"}, ("TST", "admin"): set()},
        sessions=[
            KcSession("s1", "ua", "a", "10.0.0.1"),
            KcSession("s2", "ua", "a", "10.0.0.9"),
            KcSession("s3", "ux", "x", "10.1.0.1"),
            KcSession("s4", "ux", "x", "10.1.0.2"),
        ],
        credentials={"ud": {"password"}},
    )
    store = StoreFacts(
        grants=frozenset({("a@hanoi.vss.gov.vn", "TST", "operator"), ("x@hcm.vss.gov.vn", "TST", "operator")}),
        grant_units={}, active_providers=frozenset(), locked={"b@hanoi.vss.gov.vn": "maternity"},
        last_login={"ua": dt.datetime(2026, 11, 20, 2, tzinfo=dt.UTC)},
        administrators=frozenset({"admin@hanoi.vss.gov.vn"}),
    )  # fmt: skip
    return evaluate(facts=facts, store=store, directory=DIRECTORY, admin_role_groups=[("TST", "admin")],
                    covers=lambda unit: unit.startswith(covers), today=TODAY, unused_days=unused_days)  # fmt: skip


def test_each_check_flags_its_account_in_scope_only() -> None:
    found = {(f.kind, f.email) for f in _review()}
    assert found == {
        (FindingKind.ABSENT_FROM_DIRECTORY, "gone@hanoi.vss.gov.vn"),
        (FindingKind.ABSENT_FROM_DIRECTORY, "nobody@hanoi.vss.gov.vn"),
        (FindingKind.LOCKED_BUT_ENABLED, "b@hanoi.vss.gov.vn"),
        (FindingKind.UNUSED, "b@hanoi.vss.gov.vn"),
        (FindingKind.MEMBERSHIP_WITHOUT_GRANT, "b@hanoi.vss.gov.vn"),
        (FindingKind.CONCURRENT_SESSIONS, "a@hanoi.vss.gov.vn"),
        (FindingKind.ADMIN_WITHOUT_SECOND_FACTOR, "admin@hanoi.vss.gov.vn"),
    }


def test_recent_login_is_not_unused_and_a_short_threshold_flags_it() -> None:
    assert (FindingKind.UNUSED, "a@hanoi.vss.gov.vn") not in {(f.kind, f.email) for f in _review(30)}
    assert (FindingKind.UNUSED, "a@hanoi.vss.gov.vn") in {(f.kind, f.email) for f in _review(1)}


def test_details_say_why_and_the_order_is_stable() -> None:
    findings = _review()
    assert findings == _review()
    detail = {(f.kind, f.email): f.detail for f in findings}
    assert detail[(FindingKind.CONCURRENT_SESSIONS, "a@hanoi.vss.gov.vn")] == "10.0.0.1, 10.0.0.9"
    assert "CONFIGURE_TOTP" in detail[(FindingKind.ADMIN_WITHOUT_SECOND_FACTOR, "admin@hanoi.vss.gov.vn")]
    assert detail[(FindingKind.MEMBERSHIP_WITHOUT_GRANT, "b@hanoi.vss.gov.vn")] == "TST/operator"
    assert [f.kind for f in findings] == sorted((f.kind for f in findings), key=list(FindingKind).index)


def test_other_province_sees_its_own_accounts_only() -> None:
    assert {f.email for f in _review(covers="79")} == {"x@hcm.vss.gov.vn"}

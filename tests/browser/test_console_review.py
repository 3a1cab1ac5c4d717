"""Rà soát in a real browser against the real Keycloak and slapd (issue 12): the Hà Nội administrator opens the
review page, runs the review of its unit and follows a finding's link to the person's page.

The finding is made for real: a Hà Nội person is put into a business application's role group in Keycloak
directly (as an administrator could in the Keycloak console), with no grant recorded by the bridge — the review
reads the realm through the bridge's service account and reports "role without a grant record". The membership
is removed at the end, so other modules' reviews do not see it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from bridge.adapters.keycloak.admin import KeycloakAdmin
from bridge.domain.catalogue import role_group_path
from bridge.testbed.directory_gen import Person
from tests.browser.console_bed import HN_UNIT, ConsoleBed, person_in
from tests.browser.test_console_scenarios import go, text

pytestmark = pytest.mark.integration
#: how long the review may take to answer (see the test)
REVIEW_S = 300


@pytest.fixture()
def ungranted_member(console_bed: ConsoleBed, admin: KeycloakAdmin) -> Iterator[Person]:
    """A Hà Nội person in /apps/TST/operator in Keycloak, without a grant in the bridge's store."""
    bed = console_bed
    person = person_in(bed.stack, "01", 118)  # this module's own (tests/unit/test_test_people.py)
    found = admin.get("users", email=person.mail, exact="true")  # imports the LDAP user on first sight
    assert len(found) == 1, f"{person.mail} not found once in Keycloak"
    group = admin.get("group-by-path" + role_group_path("TST", "operator"))
    membership = f"users/{found[0]['id']}/groups/{group['id']}"
    admin.put(membership, {})
    try:
        yield person
    finally:
        admin.delete(membership)


def test_the_review_page_lists_an_ungranted_role_and_links_to_the_person(
    console_bed: ConsoleBed, browser: webdriver.Chrome, ungranted_member: Person
) -> None:
    bed, person = console_bed, ungranted_member
    bed.login(browser, bed.hn_admin)
    go(browser, "nav-review", until_url="/ui/review", until_id="review-form")
    field = browser.find_element(By.ID, "unit")
    field.clear()
    field.send_keys(HN_UNIT)
    # The review reads the whole realm through the service account: every user in full representation, then every
    # role group's members. On this machine under load 25-40 (04:05 and 04:25 UTC) Keycloak's GET /users had not
    # answered after 6 and 9 minutes (stack: account_facts.read_users), so this test did not pass here; the bed's
    # 60 s page load and Selenium's 120 s reply are raised to REVIEW_S for it.
    browser.set_page_load_timeout(REVIEW_S)
    browser.command_executor._client_config.timeout = REVIEW_S + 30  # Selenium 4.50: the wait for one reply
    go(browser, "review-run", until_url=f"unit={HN_UNIT}", until_id="review-total")
    browser.set_page_load_timeout(60)
    rows = browser.find_elements(By.XPATH, "//table[@aria-labelledby='kind-membership_without_grant']//tr[td]")
    mine = [r for r in rows if r.find_element(By.TAG_NAME, "td").text.strip() == person.mail]
    assert len(mine) == 1, f"{person.mail} is not one finding of 'role without a grant': {[r.text for r in rows]}"
    assert mine[0].find_elements(By.TAG_NAME, "td")[2].text.strip() == "TST/operator"
    assert all(r.find_elements(By.TAG_NAME, "td")[1].text.startswith("01") for r in rows)  # Hà Nội's units only

    old_page = browser.find_element(By.TAG_NAME, "html")
    mine[0].find_element(By.LINK_TEXT, person.mail).click()
    WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.ID, "person-email") and old_page != d.find_element(By.TAG_NAME, "html")
    )
    assert browser.current_url.endswith(f"/ui/people/{person.mail.replace('@', '%40')}")
    assert text(browser, "#person-email") == person.mail
    assert text(browser, "#person-name") == person.full_name
    assert text(browser, "#person-unit").startswith(person.unit_code)

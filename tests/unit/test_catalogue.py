"""The role-group path codec: ``/apps/<application>/<role group>`` is written and read in one place."""

from __future__ import annotations

import pytest

from bridge.domain.catalogue import APPS_ROOT, parse_role_group_path, role_group_path


def test_a_role_group_path_reads_back_as_its_application_and_role_group() -> None:
    assert role_group_path("TST", "operator") == "/apps/TST/operator"
    assert parse_role_group_path(role_group_path("TST", "operator")) == ("TST", "operator")


@pytest.mark.parametrize(
    "path",
    [APPS_ROOT, "/apps/TST", "/apps/TST/", "/apps//operator", "/units/01000", "apps/TST/x", "/apps/TST/operator/sub"],
)
def test_other_group_paths_are_not_role_groups(path: str) -> None:
    assert parse_role_group_path(path) is None

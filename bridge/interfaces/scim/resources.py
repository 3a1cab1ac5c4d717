"""The SCIM resources of the intake (scim2-models): a User with the enterprise extension (its department is the
unit code) and the bridge's lock extension (reason and dates of the personnel decision behind ``active=false``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    EnterpriseUser,
    ETag,
    Extension,
    Filter,
    Meta,
    Name,
    Patch,
    ResourceType,
    Schema,
    ServiceProviderConfig,
    Sort,
    User,
)

from bridge.services.scim_intake import LockRequest, ScimPerson

LOCK_SCHEMA = "urn:bhxh:params:scim:schemas:extension:lock:2.0:User"
MAX_RESULTS = 200


class LockDecisionExtension(Extension):
    """Quyết định khóa / the personnel decision behind ``active=false`` (dates ISO yyyy-mm-dd)."""

    __schema__ = URN(LOCK_SCHEMA)

    reason: str | None = None
    """Lý do khóa: a reason code (maternity, terminated, …) or its Vietnamese label."""
    decision_number: str | None = None
    """Số quyết định."""
    decision_date: str | None = None
    """Ngày quyết định."""
    effective_date: str | None = None
    """Ngày hiệu lực (default: today in Asia/Ho_Chi_Minh); for active=true, the day the person works again."""
    end_date: str | None = None
    """Ngày kết thúc of a temporary lock."""


ScimUser = User[EnterpriseUser | LockDecisionExtension]


def to_resource(found: ScimPerson, base_url: str) -> Any:
    """The SCIM User of a person (``id`` and ``userName`` are the official e-mail)."""
    person = found.person
    family, _, given = person.full_name.partition(" ")
    user = ScimUser(
        id=person.email,
        # the HR systems know a person by the official account (Công văn 907's "Tài khoản"), the e-mail
        external_id=person.email,
        user_name=person.email,
        display_name=person.full_name,
        active=found.active,
        name=Name(formatted=person.full_name, family_name=family, given_name=given or None),
        emails=[Email(value=person.email, primary=True, type=Email.Type.work)],
        meta=Meta(resource_type="User", location=f"{base_url}/Users/{person.email}"),
    )
    user[EnterpriseUser] = EnterpriseUser(department=person.unit_code)
    return user


def _date(value: str | None, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{LOCK_SCHEMA}:{field}: expected a date yyyy-mm-dd, got {value!r}") from None


def lock_request(user: Any) -> LockRequest:
    """The lock extension's values of a patched or replaced User (ValueError naming a malformed date)."""
    ext = user[LockDecisionExtension]
    if ext is None:
        return LockRequest()
    return LockRequest(
        reason=ext.reason,
        decision_number=ext.decision_number,
        decision_date=_date(ext.decision_date, "decisionDate"),
        effective_date=_date(ext.effective_date, "effectiveDate"),
        end_date=_date(ext.end_date, "endDate"),
    )


def service_provider_config(base_url: str) -> ServiceProviderConfig:
    """What the intake supports: PATCH and the ``userName eq`` filter; no bulk, sort, ETag or passwords."""
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="OAuth Bearer Token",
                primary=True,
                description="Keycloak client-credentials token of the HR system's client (audience "
                "bhxh-bridge-scim, claim scim_unit)",
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base_url}/ServiceProviderConfig"),
    )


def resource_types(base_url: str) -> list[ResourceType]:
    """The one resource type: User."""
    found = ResourceType.from_resource(ScimUser)
    found.meta = Meta(resource_type="ResourceType", location=f"{base_url}/ResourceTypes/User")
    return [found]


def schemas(base_url: str) -> list[Schema]:
    """The User schema and its two extensions."""
    found = []
    for model in (User, EnterpriseUser, LockDecisionExtension):
        schema = model.to_schema()
        schema.meta = Meta(resource_type="Schema", location=f"{base_url}/Schemas/{schema.id}")
        found.append(schema)
    return found

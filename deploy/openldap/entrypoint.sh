#!/bin/sh
# The directory stand-in's start: write slapd.conf from the environment, load the directory on the first start
# (an empty volume), then run slapd in the foreground.
#
# First start: the base entry and ou=people (unless a seed file carries them, as scripts/directory_ldif.py
# writes them), every seed/*.ldif in name order, then the read-only service DN cn=sso-reader with
# LDAP_READER_PASSWORD. Later starts keep the data; LDAP_ROOT_PASSWORD (cn=admin) applies at every start, so a
# new reader password is set with ldappasswd as cn=admin. The paths and the listening URL default to the
# container's; tests/ops/test_deploy_files.py runs this script on the host with its own.
set -eu
: "${LDAP_BASE_DN:=dc=vss,dc=gov,dc=vn}"
: "${LDAP_ROOT_PASSWORD:?set LDAP_ROOT_PASSWORD}"
: "${LDAP_READER_PASSWORD:?set LDAP_READER_PASSWORD}"
DATA=${LDAP_DATA_DIR:-/var/lib/ldap/bridge}
RUN=${LDAP_RUN_DIR:-/run/slapd}
SEED=${LDAP_SEED_DIR:-/seed}
CONF=$RUN/slapd.conf
READER="cn=sso-reader,$LDAP_BASE_DN"
PEOPLE="ou=people,$LDAP_BASE_DN"

umask 077
mkdir -p "$RUN" "$DATA"
# Hash a password read from a file (never on a command line, where ps would show it).
hash_password() {
    printf '%s' "$1" > "$RUN/secret"
    slappasswd -h '{SSHA}' -T "$RUN/secret"
    rm -f "$RUN/secret"
}
rootpw=$(hash_password "$LDAP_ROOT_PASSWORD")
sed -e "s|@BASE@|$LDAP_BASE_DN|g" -e "s|@READER@|$READER|g" -e "s|@ROOTPW@|$rootpw|g" \
    -e "s|@DATA@|$DATA|g" -e "s|@RUN@|$RUN|g" "$(dirname "$0")/slapd.conf.template" > "$CONF"

if [ ! -e "$DATA/data.mdb" ]; then
    if ! cat "$SEED"/*.ldif 2>/dev/null | grep -qx "dn: $LDAP_BASE_DN"; then
        dc=$(printf '%s' "$LDAP_BASE_DN" | sed -e 's/^dc=\([^,]*\).*/\1/')
        printf 'dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: BHXH Viet Nam\ndc: %s\n\n' \
            "$LDAP_BASE_DN" "$dc" > "$RUN/base.ldif"
        printf 'dn: %s\nobjectClass: organizationalUnit\nou: people\n\n' "$PEOPLE" >> "$RUN/base.ldif"
        slapadd -q -f "$CONF" -l "$RUN/base.ldif"
    fi
    for seed in "$SEED"/*.ldif; do
        [ -e "$seed" ] || continue
        echo "loading $seed"
        slapadd -q -f "$CONF" -l "$seed"
    done
    readerpw=$(hash_password "$LDAP_READER_PASSWORD")
    printf 'dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: sso-reader\nuserPassword: %s\n\n' \
        "$READER" "$readerpw" > "$RUN/reader.ldif"
    slapadd -q -f "$CONF" -l "$RUN/reader.ldif"
    rm -f "$RUN/base.ldif" "$RUN/reader.ldif"
    echo "directory loaded: $(slapcat -f "$CONF" -a '(objectClass=inetOrgPerson)' | grep -c '^dn: ') people"
fi
chown -R openldap:openldap "$DATA" "$RUN"
exec /usr/sbin/slapd -d 0 -h "${LDAP_URLS:-ldap:///}" -u openldap -g openldap -f "$CONF"

"""Write a generated BHXH directory as LDIF, to seed the OpenLDAP stand-in of docker-compose.yml.

    python scripts/directory_ldif.py --size 2000 > deploy/openldap/seed/directory.ldif

The people are those of the test bed (bridge/testbed/directory_gen.py): deterministic from the seed, Vietnamese
names in NFC, units of keycloak-config/units.yaml, test passwords (``password_for``). The file holds the base
entry and ou=people too; the stand-in loads it on its first start (an empty volume) only. Demo data, never a
production directory.
"""

from __future__ import annotations

import argparse
import sys

from bridge.domain.units import load_units
from bridge.settings import PROJECT_ROOT
from bridge.testbed.directory_gen import directory_ldif, generate_people

BASE_DN = "dc=vss,dc=gov,dc=vn"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000, help="people to generate (default 2000)")
    parser.add_argument("--seed", type=int, default=2025, help="random seed (default 2025)")
    parser.add_argument("--base-dn", default=BASE_DN, help=f"directory suffix (default {BASE_DN})")
    args = parser.parse_args()
    units = load_units(PROJECT_ROOT / "keycloak-config" / "units.yaml")
    people = generate_people(units, size=args.size, seed=args.seed)
    for chunk in directory_ldif(people, args.base_dn, f"ou=people,{args.base_dn}"):
        sys.stdout.write(chunk)


if __name__ == "__main__":
    main()

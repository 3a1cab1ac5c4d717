"""Benchmark of staff sign-in through a business application: login, single sign-on, lock → session ended.

One command (``python bench/login.py``) starts slapd (2,000 people) and a fresh Keycloak with the realm applied,
runs two instances of the sample application (examples/business-app/) as TST and TNHS, and measures, with
``--people`` (50) staff of Hà Nội at ``--concurrency`` (5):

1. ``login``: from opening application A to its page showing the person's roles — A's redirect, Keycloak's
   login page, the password form (checked against slapd), A's callback (code exchange with PKCE, ID-token
   validation), A's page; an HTTP client plays the browser (the browser tests show the same path in Chromium).
2. ``sso_second_app``: opening application B afterwards — no password, Keycloak's SSO cookie, B's callback.
3. ``lock_to_app_logout``: a lock effective now, applied by the scheduler (what the worker runs), in rounds of
   ``concurrency`` people: from the scheduler pass's start to A's local session ended by back-channel logout.

Baselines in the same run: Keycloak's own token endpoint (client-credentials grant of the bridge's client) and a
login straight against Keycloak without the application (the test relying party). The load average is recorded
beside every figure. Results go to ``bench/results/login.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.clock import today_vn  # noqa: E402
from bridge.domain.catalogue import load_applications  # noqa: E402
from bridge.domain.lock_reasons import LockReason  # noqa: E402
from bridge.services.keycloak_config import bootstrap_admin  # noqa: E402
from bridge.testbed.business_apps import BusinessApp, business_apps, client_secret  # noqa: E402
from bridge.testbed.directory_gen import Person, password_for  # noqa: E402
from bridge.testbed.relying_party import FORM_ACTION, Browser, RelyingParty  # noqa: E402
from bridge.testbed.stack import start_stack  # noqa: E402
from tests.integration.test_locks import join, make_world  # noqa: E402

OUT = ROOT / "bench" / "results" / "login.json"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def p95_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))] * 1000, 1)


def load() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages now (taken right after each phase)."""
    return [round(x, 2) for x in os.getloadavg()]


def summary(samples: list[float], load_avg: list[float]) -> dict[str, Any]:
    return {"n": len(samples), "p50_ms": round(statistics.median(samples) * 1000, 1), "p95_ms": p95_ms(samples),
            "max_ms": round(max(samples) * 1000, 1), "load_avg": load_avg}  # fmt: skip


def open_app(browser: Browser, app: BusinessApp, person: Person | None) -> float:
    """Open the application; when Keycloak shows its form, sign ``person`` in. Seconds until A's own page."""
    started = time.perf_counter()
    page = browser.get(f"{app.url}/")
    for _ in range(12):
        if page.status_code in (302, 303, 307):
            page = browser.get(str(page.url.join(page.headers["location"])))
            continue
        form = FORM_ACTION.search(page.text)
        if form is None:
            break
        assert person is not None, "single sign-on expected, Keycloak asked for a password"
        data = {"username": person.mail.upper(), "password": password_for(person.employee_number), "credentialId": ""}
        page = browser.post(html.unescape(form.group(1)), data=data)
    elapsed = time.perf_counter() - started
    assert page.status_code == 200 and str(page.url).startswith(app.url) and "id='roles'" in page.text, (
        page.status_code,
        str(page.url),
        page.text[:300],
    )
    return elapsed


def run_parallel(jobs: list[Callable[[], float]], concurrency: int) -> list[float]:
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda job: job(), jobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    log("starting slapd (2,000 people) and Keycloak …")
    stack = start_stack(size=2000)
    work = Path(tempfile.mkdtemp(prefix="bhxh-bench-login-"))
    try:
        settings, today = stack.settings, today_vn()
        admin = bootstrap_admin(settings, stack.units.realm)
        catalogue = load_applications(settings.keycloak.config_dir / "applications.yaml")
        people = [p for p in stack.slapd.people if p.unit_code.startswith("01")][: args.people]
        for person in people:
            join(admin, person, "/apps/TST/operator", "/apps/TNHS/operator")
        issuer = f"{settings.keycloak.url}/realms/{stack.units.realm}"
        with business_apps(settings) as running:
            tst, tnhs = running["TST"], running["TNHS"]
            browsers = {p.mail: Browser() for p in people}
            warm = Browser()  # one login first: JIT, JWKS and metadata caches of both sides
            open_app(warm, tst, people[0])
            open_app(warm, tnhs, None)
            browsers[people[0].mail] = Browser()

            log(f"{len(people)} logins into TST at {args.concurrency} concurrent …")
            logins = run_parallel([lambda p=p: open_app(browsers[p.mail], tst, p) for p in people], args.concurrency)
            loads = {"login": load()}
            log("single sign-on into TNHS …")
            sso = run_parallel([lambda p=p: open_app(browsers[p.mail], tnhs, None) for p in people], args.concurrency)
            loads["sso"] = load()

            log("baselines: Keycloak's token endpoint, a login straight against Keycloak …")
            token_url = f"{issuer}/protocol/openid-connect/token"
            secret = settings.keycloak.client_secret.get_secret_value()

            def token_round_trip() -> float:
                started = time.perf_counter()
                answer = httpx.post(token_url, data={"grant_type": "client_credentials"},
                                    auth=(settings.keycloak.client_id, secret), timeout=30)  # fmt: skip
                assert answer.status_code == 200, answer.text
                return time.perf_counter() - started

            token = run_parallel([token_round_trip] * len(people), args.concurrency)
            loads["token"] = load()
            demo_app = next(a for a in catalogue if a.code == "DEMO")
            demo = RelyingParty(issuer=issuer, client_id=demo_app.client, redirect_uri=demo_app.redirect_uris[0],
                                client_secret=client_secret(admin, demo_app.client))  # fmt: skip

            def direct_login(person: Person) -> float:
                started = time.perf_counter()
                demo.login(person.mail, password_for(person.employee_number))
                return time.perf_counter() - started

            direct = run_parallel([lambda p=p: direct_login(p) for p in people], args.concurrency)
            loads["direct"] = load()

            log(f"locks effective now, {args.concurrency} per scheduler pass …")
            world = make_world(stack, catalogue, f"sqlite:///{work / 'bridge.sqlite3'}", today)
            to_logout: list[float] = []
            for start in range(0, len(people), args.concurrency):
                batch = people[start : start + args.concurrency]
                for person in batch:
                    world.lock(person.mail, LockReason.TERMINATED, on=today, effective=today)
                started = time.perf_counter()
                ended: dict[str, float] = {}
                ticking = threading.Thread(target=world.tick, args=(settings,))
                ticking.start()
                while len(ended) < len(batch) and time.perf_counter() - started < 30:
                    live = {s.get("email") for s in list(tst.sessions.by_id.values())}
                    for person in batch:
                        if person.mail not in ended and person.mail not in live:
                            ended[person.mail] = time.perf_counter() - started
                    time.sleep(0.005)
                ticking.join()
                assert len(ended) == len(batch), f"sessions still open: {set(p.mail for p in batch) - set(ended)}"
                to_logout.extend(ended.values())
            loads["lock"] = load()
        result = {
            "benchmark": "staff sign-in through the sample business application (issue 13)",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "people": len(people),
            "concurrency": args.concurrency,
            "cpus": os.cpu_count(),
            "login_p95_ms": p95_ms(logins),
            "sso_second_app_p95_ms": p95_ms(sso),
            "lock_to_app_logout_p95_ms": p95_ms(to_logout),
            "targets_ms": {"login_p95": 1500, "sso_second_app_p95": 500, "lock_to_app_logout_p95": 2000},
            "login": summary(logins, loads["login"]),
            "sso_second_app": summary(sso, loads["sso"]),
            "lock_to_app_logout": summary(to_logout, loads["lock"]),
            "baseline_token_endpoint": summary(token, loads["token"]),
            "baseline_direct_keycloak_login": summary(direct, loads["direct"]),
            "ratios": {
                "login_vs_direct_keycloak_login_p95": round(p95_ms(logins) / p95_ms(direct), 2),
                "sso_vs_token_endpoint_p95": round(p95_ms(sso) / p95_ms(token), 2),
            },
            "note": "HTTP client plays the browser; both sample apps run in the benchmark's process (uvicorn "
            "threads); the machine's 2 cores are shared with other sessions (see load_avg).",
        }
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        log(json.dumps({k: result[k] for k in ("login_p95_ms", "sso_second_app_p95_ms", "lock_to_app_logout_p95_ms")}))
    finally:
        stack.close()


if __name__ == "__main__":
    main()

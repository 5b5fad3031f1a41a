"""No patient data, no tokens and no request bodies in the logs: every endpoint, success and
error paths, is called with requests full of canary values, and the captured server log
(every line gunicorn and the app wrote) must hold none of them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from tests.security.conftest import JwtWorld
from tests.security.jwt_kit import claims, sign
from tests.support.hook_calls import full_prefetch, hook_request
from tests.support.live import REPO

NAME = "Zebulon Qwertyfield"
MRN = "MRN-7Q4-CANARY"
PATIENT_ID = "pt-canary-93a1"
RESULT = "731.4159"
FHIR_TOKEN = "fhir-access-CANARY-5v9"
USER = "doc-canary-11"
COMMENT = "Xylophagous canary comment"
FHIR_PATH = "fhir-canary-path"
CANARIES = (NAME, "Qwertyfield", MRN, PATIENT_ID, RESULT, FHIR_TOKEN, USER, COMMENT, FHIR_PATH)
TIMEOUT = 10
MINT = "a fresh valid token"


def patient_data() -> dict[str, Any]:
    prefetch = full_prefetch("patient-view")
    prefetch["patient"] = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "name": [{"text": NAME, "family": "Qwertyfield", "given": ["Zebulon"]}],
        "identifier": [{"system": "urn:mrn", "value": MRN}],
        "birthDate": "1950-01-01",
    }
    prefetch["labs"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": f"obs-{PATIENT_ID}",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "13964-2"}]},
                    "subject": {"reference": f"Patient/{PATIENT_ID}", "display": NAME},
                    "effectiveDateTime": "2026-10-01",
                    "valueQuantity": {"value": float(RESULT), "unit": "umol/L"},
                }
            }
        ],
    }
    return prefetch


def canary_request(hook: str = "patient-view", **extra: Any) -> dict[str, Any]:
    body = hook_request(hook, patient_id=PATIENT_ID)
    body["context"]["userId"] = f"Practitioner/{USER}"
    body["fhirServer"] = f"http://127.0.0.1:9/{FHIR_PATH}"
    body["fhirAuthorization"] = {
        "access_token": FHIR_TOKEN,
        "token_type": "Bearer",
        "scope": "patient/*.read",
        "subject": USER,
        "patient": PATIENT_ID,
    }
    body.update(extra)
    return body


def test_logs_hold_no_canary_from_any_endpoint(jwt_world: JwtWorld) -> None:
    tokens: list[str] = []

    def send(method: str, path: str, body: Any = None, *, token: str | None = MINT) -> int:
        if token is MINT:
            token = sign(jwt_world.key, claims(jwt_world.url(path), tenant=PATIENT_ID))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if token:
            tokens.append(token)
        kwargs: dict[str, Any] = {"headers": headers}
        if isinstance(body, bytes):
            kwargs["data"] = body
            headers["Content-Type"] = "application/json"
        elif body is not None:
            kwargs["json"] = body
        return requests.request(method, jwt_world.url(path), timeout=TIMEOUT, **kwargs).status_code

    hook = "/cds-services/b12-patient-view"
    statuses = [
        send("GET", "/cds-services"),
        send("POST", hook, canary_request(prefetch=patient_data())),
        send("POST", hook, canary_request(prefetch={"patient": patient_data()["patient"]})),
        send("POST", hook, b'{"hook": "patient-view", "name": "' + NAME.encode() + b'", '),
        send("POST", hook, canary_request(context={"patientId": 5, "name": NAME, "mrn": MRN})),
        send("POST", f"/cds-services/{PATIENT_ID}", canary_request()),
        send("POST", hook, canary_request(), token=f"{PATIENT_ID}.{MRN}.{FHIR_TOKEN}"),
        send("POST", hook, canary_request(), token=None),
    ]
    # a card, then feedback on it (with a comment) and on an unknown card
    fixture = REPO / "fixtures" / "fires-folic-acid-warning-b12-unknown" / "request.json"
    order = json.loads(fixture.read_text(encoding="utf-8"))
    order["hookInstance"] = str(uuid.uuid4())
    order["context"]["patientId"] = PATIENT_ID
    order["context"]["userId"] = f"Practitioner/{USER}"
    order_path = f"/cds-services/b12-{order['hook']}"
    token = sign(jwt_world.key, claims(jwt_world.url(order_path)))
    issued = requests.post(
        jwt_world.url(order_path),
        json=order,
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    assert issued.status_code == 200 and issued.json()["cards"], issued.text
    card = issued.json()["cards"][0]["uuid"]
    feedback = order_path + "/feedback"
    override = {"reason": {"code": "x", "system": "urn:x"}, "userComment": COMMENT}
    stamp = "2026-11-25T10:05:31Z"
    statuses += [
        send(
            "POST",
            feedback,
            {
                "feedback": [
                    {
                        "card": card,
                        "outcome": "overridden",
                        "outcomeTimestamp": stamp,
                        "overrideReason": override,
                    }
                ]
            },
        ),
        send(
            "POST",
            feedback,
            {
                "feedback": [
                    {
                        "card": PATIENT_ID,
                        "outcome": "overridden",
                        "outcomeTimestamp": stamp,
                        "overrideReason": override,
                    }
                ]
            },
        ),
        send(
            "POST",
            feedback,
            {"feedback": [{"card": card, "outcome": NAME, "outcomeTimestamp": stamp}]},
        ),
    ]
    assert statuses[0] == 200 and statuses[1] == 200, statuses
    assert {400, 401, 404, 412} <= set(statuses), statuses

    log = jwt_world.service.log_text()
    requests_logged = [line for line in log.splitlines() if '"event":"request"' in line]
    assert len(requests_logged) >= len(statuses) + 1  # the log is really being captured
    for canary in CANARIES:
        assert canary not in log, canary
    for token in tokens:
        for part in token.split("."):
            assert part not in log

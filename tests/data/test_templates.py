"""Prefetch templates are filled safely: a context value can only ever be one id."""

from __future__ import annotations

import pytest

from cds_service.data.templates import Query, TemplateError, fill
from cds_service.protocol.catalog import load_catalog

CONTEXT = {"patientId": "pat-1", "userId": "Practitioner/doc-7"}


def test_the_published_templates_all_fill_from_a_patient_view_context() -> None:
    for service in load_catalog().services:
        for key, template in service.prefetch.items():
            query = fill(template, CONTEXT)
            assert "{{" not in query.path and all("{{" not in v for _, v in query.params), key


def test_a_search_keeps_its_parameters_whole_and_a_read_becomes_a_path() -> None:
    query = fill(
        "Observation?patient={{context.patientId}}&code=http://loinc.org|2132-9,http://loinc.org|14685-2&_sort=-date",
        CONTEXT,
    )
    assert query == Query(
        "Observation",
        (
            ("patient", "pat-1"),
            ("code", "http://loinc.org|2132-9,http://loinc.org|14685-2"),
            ("_sort", "-date"),
        ),
    )
    assert fill("Patient/{{context.patientId}}", CONTEXT) == Query("Patient/pat-1", ())


def test_user_tokens_take_the_id_only_for_their_own_type() -> None:
    query = fill("PractitionerRole?practitioner={{userPractitionerId}}", CONTEXT)
    assert query.params == (("practitioner", "doc-7"),)
    with pytest.raises(TemplateError):
        fill("Patient/{{userPatientId}}", CONTEXT)


@pytest.mark.parametrize(
    "patient_id",
    ["x&code=1", "../Observation", "..", ".", "a/b", "pat 1", "x?y", "", "p" * 65, None, 7],
)
def test_a_context_value_that_is_not_one_id_is_refused(patient_id: object) -> None:
    context = {"patientId": patient_id}
    with pytest.raises(TemplateError):
        fill("Condition?patient={{context.patientId}}", context)
    with pytest.raises(TemplateError):
        fill("Patient/{{context.patientId}}", context)


@pytest.mark.parametrize(
    "template",
    [
        "Observation?date=ge{{today() - 90 days}}",  # a 3.0 FHIRPath token this service lacks
        "Observation?patient={{context.unknownField}}",
        "Observation?patient={{%labs.id}}",
        "../metadata",
        "https://elsewhere.example/Observation",
    ],
)
def test_templates_it_cannot_fill_or_that_leave_the_server_are_refused(template: str) -> None:
    with pytest.raises(TemplateError):
        fill(template, CONTEXT)

"""`analyte_of` has a direct path for the single-coding shape servers send; it must answer
exactly what reading every coding through `coding_keys` answers, for any coding."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.policy import load_policy
from cds_service.record.index import index_for
from cds_service.record.jsonish import coding_keys
from cds_service.record.model import Analyte
from cds_service.record.observations import analyte_of

INDEX = index_for(load_policy())
KNOWN = sorted(INDEX.lab_analyte) + sorted(INDEX.excluded)[:20]
SYSTEMS = [
    *sorted({k.rsplit("|", 1)[0] for k in KNOWN}),
    "http://loinc.org/",
    "urn:oid:2.16.840.1.113883.6.1",
    "https://loinc.org",
    "http://example.org/local",
]
CODES = [*sorted({k.rsplit("|", 1)[1] for k in KNOWN}), "", " ", "0000-0"]


def by_every_coding(resource: dict[str, Any]) -> tuple[Analyte, str] | None:
    found: tuple[Analyte, str] | None = None
    for key in coding_keys(resource.get("code")):
        if key in INDEX.excluded:
            return None
        if found is None and key in INDEX.lab_analyte:
            found = (INDEX.lab_analyte[key], key.rsplit("|", 1)[1])
    return found


codes = st.one_of(
    st.sampled_from(CODES),
    st.sampled_from(CODES).map(lambda c: f" {c}"),
    st.sampled_from(CODES).map(lambda c: f"{c}\t"),
    st.integers(),
    st.none(),
)
codings = st.one_of(
    st.fixed_dictionaries({"system": st.sampled_from(SYSTEMS), "code": codes}),
    st.fixed_dictionaries({"code": codes}),
    st.just("not a coding"),
)
concepts = st.one_of(
    st.fixed_dictionaries({"coding": st.lists(codings, max_size=3)}),
    st.fixed_dictionaries({"coding": codings}),
    st.none(),
    st.text(max_size=5),
)


@settings(max_examples=2000, deadline=None, database=None)
@given(concepts)
def test_the_direct_path_answers_as_every_coding_would(concept: Any) -> None:
    resource = {"resourceType": "Observation", "code": concept}
    assert analyte_of(resource, INDEX) == by_every_coding(resource)


def test_the_common_shapes_are_recognised() -> None:
    b12 = {"code": {"coding": [{"system": "http://loinc.org", "code": "14685-2"}]}}
    assert analyte_of(b12, INDEX) == (Analyte.B12, "14685-2")
    spaced = {"code": {"coding": [{"system": "http://loinc.org", "code": " 14685-2 "}]}}
    assert analyte_of(spaced, INDEX) == (Analyte.B12, "14685-2")

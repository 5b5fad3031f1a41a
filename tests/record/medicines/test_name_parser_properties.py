"""Property tests for the medicine name parser: whatever the order, spacing, case, brand or
pack, the same ingredients and strengths; folic acid and its analogues never confused."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.record.medicines.model import FOLATE_ANALOGUES, Substance
from cds_service.record.medicines.names import parse_name

S = Substance
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (how a name may be written, the substance it is)
SPELLINGS: dict[Substance | None, list[str]] = {
    S.CYANOCOBALAMIN: [
        "vitamin B12",
        "Vitamin B 12",
        "vitamin B-12",
        "Vit B12",
        "B-12",
        "B12",
        "cyanocobalamin",
        "Cyanocobalamin",
        "cobalamin",
    ],
    S.HYDROXOCOBALAMIN: ["hydroxocobalamin", "Hydroxocobalamin acetate", "hydroxycobalamin"],
    S.METHYLCOBALAMIN: ["mecobalamin", "methylcobalamin", "Methylcobalamin"],
    S.ADENOSYLCOBALAMIN: ["cobamamide", "adenosylcobalamin"],
    S.FOLIC_ACID: ["folic acid", "Folic Acid", "FOLIC ACID", "folacin"],
    S.FOLINIC_ACID: ["leucovorin", "leucovorin calcium", "calcium folinate", "folinic acid"],
    S.LEVOFOLINIC_ACID: ["levoleucovorin", "calcium levofolinate", "levofolinic acid"],
    S.LEVOMEFOLATE: [
        "levomefolate calcium",
        "L-methylfolate",
        "l-methylfolate calcium",
        "levomefolic acid",
        "5-MTHF",
    ],
    S.METFORMIN: ["metformin hydrochloride", "metformin", "Metformin HCl"],
    None: [
        "ascorbic acid",
        "pyridoxine hydrochloride",
        "cholecalciferol",
        "ferrous fumarate",
        "biotin",
        "niacinamide",
        "zinc oxide",
        "Lacticaseibacillus casei KE-99",
    ],
}
FORMS = [
    "Oral Tablet",
    "Oral Capsule",
    "Injectable Solution",
    "Sublingual Tablet",
    "Chewable Tablet",
    "Extended Release Oral Tablet",
    "Nasal Spray",
    "Oral Solution",
]

ingredient = st.tuples(
    st.sampled_from([k for k in SPELLINGS]),
    st.integers(min_value=0, max_value=10**6),
    st.floats(min_value=0.001, max_value=5000, allow_nan=False).map(lambda x: round(x, 3)),
)


def _spelled(draw: st.DrawFn, substance: Substance | None, index: int) -> str:
    names = SPELLINGS[substance]
    return names[index % len(names)]


@st.composite
def products(draw: st.DrawFn) -> tuple[str, dict[Substance | None, float], str]:
    """A name in RxNorm's grammar with 1-5 distinct substances, and what it should mean."""
    chosen = draw(st.lists(ingredient, min_size=1, max_size=5, unique_by=lambda t: t[0]))
    form = draw(st.sampled_from(FORMS))
    per = "/ML" if form in ("Injectable Solution", "Oral Solution") else ""
    unit = draw(st.sampled_from(["MG", "mg", "Mg"]))
    gap = draw(st.sampled_from([" ", "", "  "]))  # "1 MG", "1MG"
    sep = draw(st.sampled_from([" / ", " /  ", "  / "]))
    parts = []
    wanted: dict[Substance | None, float] = {}
    for substance, index, amount in chosen:
        name = _spelled(draw, substance, index)
        parts.append(f"{name} {amount!s}{gap}{unit}{per}")
        wanted[substance] = amount
    prefix = draw(st.sampled_from(["", "24 HR ", "10 ML "])) if form != "Nasal Spray" else ""
    brand = draw(st.sampled_from(["", " [Brandname]", " [Multi Vita-Brand 5]"]))
    text = prefix + sep.join(parts) + " " + form + brand
    if draw(st.booleans()):
        text = text.upper()
    return text, wanted, form


@given(products())
@PROPS
def test_any_order_spacing_case_and_brand_gives_the_same_ingredients(
    case: tuple[str, dict[Substance | None, float], str],
) -> None:
    text, wanted, form = case
    parsed = parse_name(text)
    assert parsed is not None, text
    assert parsed.dose_form == form
    named = {i.substance: i.strength for i in parsed.ingredients if i.substance is not None}
    assert set(named) == {s for s in wanted if s is not None}, text
    for substance, strength in named.items():
        assert strength is not None and strength.mg == wanted[substance], text
    assert len(parsed.ingredients) == len(wanted), text


@given(st.lists(products(), min_size=2, max_size=3), st.lists(st.integers(1, 90), min_size=3))
@PROPS
def test_a_pack_holds_every_component_ingredient(
    components: list[tuple[str, dict[Substance | None, float], str]], counts: list[int]
) -> None:
    inner = " / ".join(
        f"{n} ({text.split(' [')[0]})" for n, (text, _, _) in zip(counts, components, strict=False)
    )
    parsed = parse_name("{" + inner + " } Pack [Kit]")
    assert parsed is not None and parsed.dose_form == "Pack" and parsed.brand == "Kit"
    wanted = set().union(*({s for s in w if s is not None} for _, w, _ in components))
    assert parsed.substances == wanted


@given(
    st.sampled_from(sorted(FOLATE_ANALOGUES)),
    st.integers(min_value=0, max_value=100),
    st.sampled_from(["", " 15 mg", " 1 MG Oral Tablet", " 50 MG Injection", " tablets"]),
    st.booleans(),
)
@PROPS
def test_folate_analogues_are_never_folic_acid(
    analogue: Substance, index: int, tail: str, upper: bool
) -> None:
    name = SPELLINGS[analogue][index % len(SPELLINGS[analogue])] + tail
    parsed = parse_name(name.upper() if upper else name)
    assert parsed is not None and parsed.substances == {analogue}, name


@given(
    st.integers(min_value=0, max_value=100), st.sampled_from(["", " 5 mg", " 0.4 MG Oral Tablet"])
)
@PROPS
def test_folic_acid_is_never_an_analogue(index: int, tail: str) -> None:
    name = SPELLINGS[S.FOLIC_ACID][index % len(SPELLINGS[S.FOLIC_ACID])] + tail
    parsed = parse_name(name)
    assert parsed is not None and parsed.substances == {S.FOLIC_ACID}, name


def test_the_names_the_issue_reports() -> None:
    sandbox = parse_name("Vitamin B 12 1 MG Oral Tablet [B-12 Resin]")
    assert sandbox is not None
    assert (sandbox.substances, sandbox.dose_form, sandbox.brand) == (
        {S.CYANOCOBALAMIN},
        "Oral Tablet",
        "B-12 Resin",
    )
    (b12,) = sandbox.ingredients
    assert b12.strength is not None and b12.strength.mg == 1.0
    with_folic = parse_name("Ferrous fumarate 305 mg with folic acid 350 micrograms capsules")
    assert with_folic is not None and with_folic.substances == {S.FOLIC_ACID}
    strengths = {i.name: i.strength and i.strength.mg for i in with_folic.ingredients}
    assert strengths == {"ferrous fumarate": 305.0, "folic acid": 0.35}
    for words in ("B12/folic acid", "vitamin B12 and folic acid", "folic acid + B-12"):
        parsed = parse_name(words)
        assert parsed is not None and parsed.substances == {S.CYANOCOBALAMIN, S.FOLIC_ACID}


def test_free_text_strengths_and_per_volume() -> None:
    cases = {
        "Hydroxocobalamin 1mg/1ml solution for injection ampoules": (
            1.0,
            "mL",
            "Injectable Solution",
        ),
        "Metformin 500mg/5ml oral solution": (100.0, "mL", "Oral Solution"),
        "B12 1000mcg tabs": (1.0, None, "Oral Tablet"),
        "Cyanocobalamin 1,000 mcg/mL injection": (1.0, "mL", "Injection"),
        "Nascobal 500 mcg/spray": (0.5, "actuation", None),  # the words name no form
        "B12 500 mcg/actuation nasal spray": (0.5, "actuation", "Nasal Spray"),
        "1000 mcg cyanocobalamin": (1.0, None, None),
    }
    for text, (mg, per, form) in cases.items():
        parsed = parse_name(text)
        assert parsed is not None, text
        (first,) = parsed.ingredients
        assert first.strength is not None and (first.strength.mg, first.strength.per) == (
            mg,
            per,
        ), text
        assert parsed.dose_form == form, text


def test_junk_never_raises() -> None:
    for junk in (
        "",
        " ",
        "{",
        "{} Pack",
        "{( / )} Pack",
        "[",
        "1 / 2 / 3",
        "mg mg mg",
        "/" * 50,
        "9" * 400,
        "vitamin b12 " * 200,
        "(((((",
        "a [b] [c]",
    ):
        parse_name(junk)

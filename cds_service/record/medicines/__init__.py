"""Medicines as a pharmacist reads them: every medication -> a typed `Product`.

`model` (the types), `substances` (names and synonyms), `names` (RxNorm's name grammar and
free text), `forms` (dose forms and route words), `rxnorm` (the shipped product tables),
`dosage` (dose per administration and per day), `classify` (codes, names and Medication
resources -> `Product`, cached). Pure code: no FHIR models, no policy numbers.
"""

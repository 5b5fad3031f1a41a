"""The patient-view rules over a FHIR Bulk Data export: `b12-cds worklist`."""

"""The health adapter: FHIR R4B bundles of the clinical service in, case events out."""

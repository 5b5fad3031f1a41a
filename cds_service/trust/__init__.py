"""Who may call (client JWT, trusted clients, JWKS) and where their FHIR token may go."""

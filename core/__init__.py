"""The shared ground floor every app stands on: domain errors and the API error
handler, input validation, webhook signatures, permissions, parsers,
pagination, middleware and health. It imports no app."""

"""The HTTP server: FastAPI app factory, routes, schemas, error mapping, limits."""

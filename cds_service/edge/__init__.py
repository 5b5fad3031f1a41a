"""The edge: Flask app, HTTP API, CLI and the gunicorn server; it takes a hook call in and answers it."""

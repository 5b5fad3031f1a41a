"""The edge: Flask app, HTTP API, CLI and WSGI server. The only layer that knows HTTP."""

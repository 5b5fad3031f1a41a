"""The performance benchmark: the service against its physical floors, in one run.

`python -m bench` (or `python -m bench --quick` for a smoke run) measures on this machine:
the parse floor (`json.loads` of the request bodies), the HTTP floor (a bare Flask app on
the same gunicorn server and worker settings that only parses the body), and the service
(`b12-cds serve --no-auth`), then prints one table and the ratios against the targets.
`python -m bench.profile` profiles one hook call path in-process (pyinstrument).
"""

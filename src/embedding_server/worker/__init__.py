"""The serving process: what runs inside a gunicorn worker around the app.

gunicorn parses HTTP (its hardened parser and its `limit_request_*`
limits); this package adds what gunicorn's gevent worker leaves open: a
deadline on every read of a connection (`connection`), a request body that
answers its own faults as client errors (`body`), and client faults refused
as JSON, logged as such, never as server errors (`gevent_worker`).
"""

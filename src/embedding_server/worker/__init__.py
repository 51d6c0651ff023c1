"""The serving process: what runs inside a gunicorn worker around the app.

`handler` reads each request as strictly as gunicorn's parser (framing,
limits, Host), within idle, head and body deadlines, and sends each
response in one write; `request_headers` is its header reader; `body` the
request body the application reads; `accept` spreads new connections over
the workers. Nothing here imports Flask or TensorFlow.
"""

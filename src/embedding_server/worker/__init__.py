"""The serving process: gunicorn, its master and its workers, around the app.

`gunicorn` configures and runs gunicorn (the master's SIGHUP relay, each
worker's app, built after the fork); `signals` is what passes between
master and workers; `heap` keeps a worker's garbage collection cheap;
`handler` reads each request as strictly as gunicorn's parser (framing,
limits, Host) within idle, head and body deadlines, and sends each response
in one write; `request_headers` is its header reader; `body` the request
body the application reads; `accept` spreads new connections over the
workers. Only `gunicorn.load`, in a worker, imports the app (and so Flask
and TensorFlow): the master never does.
"""

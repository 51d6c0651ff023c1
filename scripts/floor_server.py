"""Reference servers for the benchmark's floors (`bench.py --floors`).

    python scripts/floor_server.py {wsgi|flask|restx} PORT WORKERS

The same gunicorn workers as `my-server-manage serve` (gevent pywsgi with
the worker handler: strict reading, deadlines, one write per response;
balanced accepts, the frozen heap, the switch after each response) and
the same registry, micro-batcher and models, built from the same
environment, in front of the least an embedding server can be:
  wsgi:  a bare WSGI function, no framework;
  flask: plain Flask routes;
  restx: flask-restx resources, as the served API's (`/health/live` a plain
         Flask route, as the served one).
None of them checks bodies, keys, limits or versions, logs, counts or adds
headers: what each costs is what the work itself costs on this machine's
HTTP path with that framework, against which the served stack's ratios can
be read (docs/performance.md). Never a way to serve anything.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable, Iterable

from embedding_server.settings import Settings, load_settings
from embedding_server.worker.gunicorn import GunicornServer, ServeOptions, cooperative, serve

LIVE = b'{"status":"alive"}'
API_PREFIX = "/api/v1"
PREFIX = f"{API_PREFIX}/models/"
Handler = Callable[[bytes], bytes]


def handlers(config: Settings) -> dict[str, Handler]:
    """Per path, `/predict` and `/embed` request bodies to response bodies,
    built by the served API's own body builders."""
    # In the worker, after the fork: prometheus-client (the registry's
    # metrics) must not be imported before the master has set its directory.
    import orjson

    from embedding_server.api.common import OPTIONS
    from embedding_server.api.native.models import embed_body, predict_body
    from embedding_server.app import build_registry

    registry = build_registry(config)
    routes = {}
    for name in registry.names():
        servable = registry.get(name)

        def predict(data: bytes, servable: Any = servable, name: str = name) -> bytes:
            result = servable.embed([orjson.loads(data)["title"]])
            return orjson.dumps(predict_body(name, result), option=OPTIONS)

        def embed(data: bytes, servable: Any = servable, name: str = name) -> bytes:
            body = orjson.loads(data)
            result = servable.embed(body["texts"])
            return orjson.dumps(embed_body(name, result, body.get("encoding_format", "float")),
                                option=OPTIONS)

        routes[f"{PREFIX}{name}/predict"] = predict
        routes[f"{PREFIX}{name}/embed"] = embed
    return routes


def wsgi_app(routes: dict[str, Handler]) -> Callable:
    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/health/live":
            body = LIVE
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = routes[path](environ["wsgi.input"].read(length))
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    return app


def flask_app(routes: dict[str, Handler], restx: bool = False) -> Callable:
    from flask import Flask, Response, request

    app = Flask("floor")

    @app.get("/health/live")
    def live() -> Response:
        return Response(LIVE, mimetype="application/json")

    def embedding(name: str, action: str) -> Response:
        return Response(routes[request.path](request.get_data()),
                        mimetype="application/json")

    if not restx:
        app.post(f"{PREFIX}<name>/<action>")(embedding)
        return app
    from flask_restx import Api, Namespace, Resource

    namespace = Namespace("models")

    @namespace.route("/<string:name>/<string:action>")
    class Embedding(Resource):
        def post(self, name: str, action: str) -> Response:
            return embedding(name, action)

    Api(app, prefix=API_PREFIX, doc=False).add_namespace(namespace, path="/models")
    return app


class FloorServer(GunicornServer):
    def __init__(self, kind: str, config: Settings, options: ServeOptions):
        self._kind = kind
        super().__init__(config, options)

    def load(self) -> Callable:
        from embedding_server.worker.heap import settle_heap

        routes = handlers(self._config)
        app = (wsgi_app(routes) if self._kind == "wsgi"
               else flask_app(routes, restx=self._kind == "restx"))
        settle_heap()  # as the real workers do
        return cooperative(app)


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ("wsgi", "flask", "restx"):
        raise SystemExit("usage: floor_server.py {wsgi|flask|restx} PORT WORKERS")
    config = load_settings()
    serve(config, ServeOptions(host="127.0.0.1", port=int(sys.argv[2]),
                               workers=int(sys.argv[3]), threads=1,
                               timeout=config.WORKER_TIMEOUT),
          functools.partial(FloorServer, sys.argv[1]))


if __name__ == "__main__":
    main()

"""The `models` namespace, its Swagger models, and the statuses its
resources document besides their own."""
from __future__ import annotations

from typing import Callable

from flask_restx import Namespace

from .schemas import register_models

#: Named for its group in the whole API's document; its routes stay under /models.
ns = Namespace("native", path="/models",
               description="The native API: model status, embeddings, similarity, tokens")
schema = register_models(ns)

#: What any resource of the namespace may answer besides its own statuses.
guarded: Callable[[type], type] = ns.doc(responses={
    401: ("Missing or wrong API key (when API keys are configured)", schema["error"]),
    429: ("The client's rate limit is spent (or, for embeddings, the model's queue "
          "is full); see Retry-After", schema["error"]),
})


def reads_body(too_large: str, empty: str, unavailable: str = "The model is not "
               "AVAILABLE, or its run failed") -> Callable:
    """The statuses every endpoint that reads a JSON body may answer, besides 200."""
    error = schema["error"]
    return ns.doc(responses={
        400: ("Malformed body, wrong type, unknown field or value out of range", error),
        404: ("No such model is configured", error),
        413: (too_large, error),
        415: ("A Content-Encoding other than gzip, or a Content-Type that cannot be JSON",
              error),
        422: (empty, error),
        503: (unavailable, error),
    })

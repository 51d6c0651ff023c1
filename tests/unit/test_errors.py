"""Every serving error has one status, shared by the native, OpenAI and TF Serving APIs."""
from embedding_server.api.errors import SERVING_ERRORS
from embedding_server.serving import errors


def test_every_serving_error_has_a_status():
    kinds = {value for value in vars(errors).values()
             if isinstance(value, type) and issubclass(value, errors.ServingError)
             and value is not errors.ServingError}
    assert kinds == set(SERVING_ERRORS)
    assert all(400 <= status < 600 for status, _ in SERVING_ERRORS.values())

"""The whole API in one OpenAPI (Swagger 2.0) document, served at
/api/v1/swagger.json and shown by the Swagger UI at /api/v1/.

flask-restx writes the native API's part from its resources; the OpenAI-
and TF Serving-compatible routes and the operations endpoints are plain
Flask routes (their wire formats are not restx's), so their parts are
written here, from the same forms that check their bodies. Every route the
app serves is in the document: tests compare it with the app's URL map and
validate real responses against it.
"""
from .document import GROUPS, DocumentedApi, Group

__all__ = ["GROUPS", "DocumentedApi", "Group"]

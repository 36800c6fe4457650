"""marshmallow schemas of the HTTP API: request validation and the OpenAPI document."""

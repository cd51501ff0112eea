"""The HTTP layer: the REST views of each area (events, analytics, privacy) with their serializers
and routes, the OpenAPI pieces they share (schema), the request middleware and the body parser."""

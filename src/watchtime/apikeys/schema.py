"""OpenAPI: the Bearer security scheme of the API-key authentication, and the live counter's token."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "watchtime.apikeys.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key from `watchtime createkey`."}


class LiveTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "watchtime.apikeys.authentication.LiveTokenAuthentication"
    name = "LiveToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "query", "name": "token",
                "description": "A read-only token for one movie's live count, from `watchtime livetoken`."}

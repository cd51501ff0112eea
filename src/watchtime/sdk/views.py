"""GET /sdk/<path> (revalidated with its ETag) and /sdk/<version>/<path> (immutable) for each module
of the SDK (watchtime-player.js, lib/*.js) and nothing else: no key, and
`Access-Control-Allow-Origin: *`, since any player page may load them as module scripts (which
browsers fetch in CORS mode, as they do for an integrity check). The entry point imports its
modules by relative URL, so a page gets them all from the same /sdk/ or /sdk/<version>/."""

from django.http import Http404, HttpResponse
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe

from watchtime.sdk import sdk

# Revalidated at each use: a page never mixes modules of two versions for longer than a deploy
# takes, which separately cached modules could (the versioned URLs never change).
LATEST_CACHE = "public, no-cache"
VERSIONED_CACHE = "public, max-age=31536000, immutable"


@require_safe
def latest(request, path: str):
    return _serve(request, path, LATEST_CACHE)


@require_safe
def versioned(request, version: str, path: str):
    if version != sdk().version:
        raise Http404("This API serves another SDK version.")
    return _serve(request, path, VERSIONED_CACHE)


def _serve(request, path: str, cache_control: str) -> HttpResponse:
    file = sdk().files.get(path)  # the SDK's own modules only: no other path reaches the disk
    if file is None:
        raise Http404("The SDK has no such file.")
    response = get_conditional_response(request, etag=file.etag) or HttpResponse(
        file.body, content_type="text/javascript; charset=utf-8"
    )
    response["ETag"] = file.etag
    response["Cache-Control"] = cache_control
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response

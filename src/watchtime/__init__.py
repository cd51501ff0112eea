"""watchtime: exact watch-time accounting from video player heartbeats."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("watchtime")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"

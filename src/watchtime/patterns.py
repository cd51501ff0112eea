"""The shapes of names and values that every layer checks (validation, serializers, models,
API keys, OpenAPI): one definition each. No Django import."""

import re

# A viewer's name: Django's username characters.
USERNAME_PATTERN = r"^[\w.@+-]{1,150}\Z"
USERNAME_RE = re.compile(USERNAME_PATTERN)
USERNAME_HELP = "1-150 characters, letters, digits and @.+-_ only."

# A movie's slug, and an API key's name: ASCII letters, digits, '-' and '_'.
SLUG_PATTERN = r"^[-a-zA-Z0-9_]{1,100}\Z"
SLUG_RE = re.compile(SLUG_PATTERN, re.ASCII)
SLUG_HELP = "1-100 characters, letters, digits, '-' and '_' only."

# A player session: printable, no control characters and no lone surrogates (JSON can carry
# them; UTF-8, and so PostgreSQL, cannot).
SESSION_PATTERN = r"^[^\x00-\x1f\x7f\ud800-\udfff]{0,64}\Z"
SESSION_RE = re.compile(SESSION_PATTERN)
SESSION_HELP = "At most 64 printable characters."

# A playback position (and a movie's duration), in seconds: up to one day.
MAX_POSITION_SECONDS = 86400

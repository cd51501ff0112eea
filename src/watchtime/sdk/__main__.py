"""`python -m watchtime.sdk [BASE_URL]`: the SDK's version and the import map that pins each of its
modules to its integrity hash, for a player page (and the READMEs) that load it from BASE_URL."""

import sys

from watchtime.sdk import EXAMPLE_BASE_URL, sdk

base_url = sys.argv[1] if len(sys.argv) > 1 else EXAMPLE_BASE_URL
print(f"version {sdk().version}")
print('<script type="importmap">')
print(sdk().import_map_json(base_url))
print("</script>")

"""Static files' names: hashed once collectstatic has written its manifest (the image), plain before it."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed, hashed files (served cached for a year). A source checkout that never ran
    collectstatic (the tests, the bench, `watchtime dev`) has no manifest: pages name the plain files there,
    rather than failing on the missing entry."""

    def stored_name(self, name):
        if not self.hashed_files:
            return name
        return super().stored_name(name)

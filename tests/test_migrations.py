import subprocess

from tests import support


def test_models_and_migrations_agree(tmp_path):
    """A model change without its migration would reach production unmigrated."""
    env = {"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "true", "WATCHTIME_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [support.WATCHTIME, "manage", "makemigrations", "--check", "--dry-run"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr

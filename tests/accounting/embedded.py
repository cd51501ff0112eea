"""Run as a program: the exactness scenario of one seed on a database of its own (the embedded
default: SQLite), printing every analytics answer as JSON. test_apply runs it on SQLite and
compares with the reference, so the embedded default is proven to answer the same."""

import json
import random
import sys


def main(seed: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from rest_framework.test import APIClient

    from tests.accounting import test_apply

    client = APIClient()
    rng = random.Random(seed)
    got, want = test_apply.answers_for(client, rng, test_apply.scenarios.viewing(rng))
    limits, definitions = test_apply.limits_from_settings(), test_apply.definitions_from_settings()
    drift = test_apply.totals_drift(limits=limits) + test_apply.analytics_drift(limits=limits, definitions=definitions)
    print(json.dumps({"mismatched": [repr(k) for k in want if got.get(k) != want[k]], "compared": len(want), "drift": drift}))


if __name__ == "__main__":
    main(int(sys.argv[1]))

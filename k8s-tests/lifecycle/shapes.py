"""Value sets of the lifecycle suite: the production shapes, and the changes an upgrade makes."""

from __future__ import annotations

import copy
import itertools
from typing import Any


def merged(base: dict[str, Any], *changes: dict[str, Any]) -> dict[str, Any]:
    """base with each change merged in depth (maps merge, everything else replaces)."""
    result = copy.deepcopy(base)
    for change in changes:
        for key, value in change.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merged(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
    return result


EXTERNAL_DATABASE = {"postgres": {"enabled": False},
                     "externalDatabase": {"host": "pg-rw", "database": "app", "existingSecret": "pg-app"}}
BROKERS = {
    "mq=external": {"rabbitmq": {"enabled": False},
                    "externalRabbitmq": {"host": "mq.messaging.svc", "existingSecret": "mq-default-user"}},
    "mq=operator": {"rabbitmq": {"enabled": False}, "rabbitmqCluster": {"enabled": True}},
}
SECRET_KEYS = {
    "key=existing": {"secretKey": {"existingSecret": "watchtime-django"}},
    "key=generated": {},
}
BOOTSTRAP_KEYS = {
    "bootstrap=off": {},
    "bootstrap=existing": {"bootstrapApiKey": {"enabled": True, "existingSecret": "watchtime-bootstrap"}},
    "bootstrap=generated": {"bootstrapApiKey": {"enabled": True}},
}
HOOKS = {"hooks=on": {}, "hooks=off": {"migrations": {"useHelmHooks": False}}}


def production_shapes() -> dict[str, dict[str, Any]]:
    """External database and broker (or the operator's), with and without existing secrets and a
    bootstrap key, migrations as Helm hooks or as a plain Job."""
    shapes = {}
    for choice in itertools.product(BROKERS.items(), SECRET_KEYS.items(), BOOTSTRAP_KEYS.items(), HOOKS.items()):
        name = ",".join(label for label, _ in choice)
        shapes[name] = merged(EXTERNAL_DATABASE, *(values for _, values in choice))
    return shapes

"""The RabbitMQ client: the only package that imports pika. It moves message bytes and calls the
handler it is given; it never imports the domain.

- `publish_part(body, items=..., combine=..., content_type=...)`: confirmed publishing from this
  process with group commit (the parts of concurrent requests go out as one message, gathering.py);
  `publish(body, content_type=...)` for a message of its own; `close()`. Behind a circuit that
  refuses at once while the broker is unreachable, stalled or blocking (publisher.py,
  publisher_loop.py, circuit.py); `PublishUnconfirmed` (a `BrokerUnavailable`) when the message
  may be stored anyway.
- `consume(handle_batch, state=...)`: consume until SIGTERM, reconnecting (consumer.py).
- Topology (topology.py), connection parameters (connection.py), the consumer's pure
  bookkeeping (batching.py) and the plain values callers exchange with it (types.py).
"""

from watchtime.broker.circuit import State as CircuitState
from watchtime.broker.consumer import ConsumerState, consume
from watchtime.broker.publisher import close, publish, publish_part, publisher
from watchtime.broker.topology import queue_arguments, queue_names
from watchtime.broker.types import (
    BrokerUnavailable,
    DeadLetter,
    Delivery,
    Outcome,
    PublishUnconfirmed,
    TransientFailure,
)

__all__ = [
    "BrokerUnavailable",
    "CircuitState",
    "ConsumerState",
    "DeadLetter",
    "Delivery",
    "Outcome",
    "PublishUnconfirmed",
    "TransientFailure",
    "close",
    "consume",
    "publish",
    "publish_part",
    "publisher",
    "queue_arguments",
    "queue_names",
]

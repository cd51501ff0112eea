"""The RabbitMQ client: the only package that imports pika. It moves message bytes and calls the
handler it is given; it never imports the domain.

- `publish(body, content_type=...)` / `close()`: confirmed publishing from this process (publisher.py).
- `consume(handle_batch, state=...)`: consume until SIGTERM, reconnecting (consumer.py).
- Topology (topology.py), connection parameters (connection.py), the consumer's pure
  bookkeeping (batching.py) and the plain values callers exchange with it (types.py).
"""

from watchtime.broker.consumer import ConsumerState, consume
from watchtime.broker.publisher import close, publish, publisher
from watchtime.broker.topology import queue_arguments, queue_names
from watchtime.broker.types import BrokerUnavailable, Delivery, Outcome, TransientFailure

__all__ = [
    "BrokerUnavailable",
    "ConsumerState",
    "Delivery",
    "Outcome",
    "TransientFailure",
    "close",
    "consume",
    "publish",
    "publisher",
    "queue_arguments",
    "queue_names",
]

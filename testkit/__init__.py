"""Local-stack helpers shared by tests/, bench/ and k8s-tests/ (never imported by src/): free
loopback ports (ports), waiting for a condition (waiting), the machine's RabbitMQ as a test uses
it (rabbitmq), and PostgreSQL clusters and RabbitMQ nodes of a run's own (instances)."""

"""watchtime's benchmark suite: `python -m bench` (full) or `python -m bench --quick`.

Measures this machine's raw limits (RabbitMQ publish/consume, PostgreSQL upsert) and the
service's own figures in the same run, and writes bench/results/latest.{json,md}.
"""

"""Process entry points on top of everything: the consumer's batch handler and probes (consumer),
the consumer's background backfill thread (backfill), and every management command
(management/commands: consume_rabbitmq, maintain, prune, recompute, verify, backfill, createkey,
revokekey). An installed app without models, so that Django finds the commands."""

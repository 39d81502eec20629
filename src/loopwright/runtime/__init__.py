"""Makes the engine durable and reachable: submitting messages, running, cancelling."""

"""Outgoing event webhooks: Standard Webhooks signatures and the delivery loop over the
durable outbox (storage role ``WebhookOutbox``), sent through ``mairust.net``'s safe client."""

"""OneCode site gateway: device batches in, durable outbox, EPCIS events to the cloud."""

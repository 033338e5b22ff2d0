"""What decides and records one transfer, without speaking HTTP.

The server (`gate.server`), the demo and the tests call this layer: the gatekeeper (who calls,
may these bytes go, recorded in the audit chain), the model-facts provider (one classification
per commit), receipts, snapshot bundles and the transfer context. It reads the records store
(`gate.store`), the model sources (`gate.hub`) and the pure layers; it never imports the server.
"""

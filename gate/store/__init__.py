"""The records store: recipients, credentials, licenses, model records, inquiries, audit chain.

Open it with `gate.store.db.open_store(url)`; each record kind has its module of functions taking
the store. The proxy's two calls are `gate.store.facts.build_request` and
`gate.store.record.record_decision`. See docs/records.md.
"""

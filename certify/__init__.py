"""Certify: the buyer's five tests (burst, concurrent sales, failure recovery, bulk,
audit trail) run against this hub, with figures, as one command and one page.

    python manage.py certify [--channels SLUG,...] [--report FILE] [--keep]

Not production code: it drives the channel simulator and reuses the benchmark harness
(`bench.harness`), so no production module imports it (import-linter says so). The
dashboard's Certify page lives here too (`certify.views`, routed by name from
`inventory_hub.urls`).
"""

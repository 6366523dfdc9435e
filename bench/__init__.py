"""Benchmarks that print their figures as one JSON object, against baselines measured in
the same run.

Run each as a module (`python -m bench.ledger`, `bench.fanout`, `bench.ingest`,
`bench.propagation`, `bench.dashboard`) under `scripts/services.py run --`, or all of
them with `make bench`.
What they share lives in bench/harness/; see bench/README.md.
"""

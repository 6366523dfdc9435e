"""Benchmarks that print a ratio against a baseline measured in the same run.

Run each as a module (`python -m bench.ledger`, `python -m bench.fanout`) under
`scripts/services.py run --`, or all of them with `make bench`. See bench/README.md.
"""

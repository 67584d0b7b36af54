"""Taskdeck's benchmarks: each prints its figures next to a baseline measured in the same run.

``python -m bench`` (``make bench``; options through ``BENCH_ARGS``) creates its own Postgres
database and Redis stream keys, runs ``throughput``, ``latency``, ``api`` and ``memory``, prints
one table per benchmark, writes ``bench/results/latest.json`` and removes what it created. Speed
and memory targets live here, never as timed assertions in tests. See ``bench/README.md``.
"""

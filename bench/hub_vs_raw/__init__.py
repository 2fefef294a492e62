"""``make bench``: the hub pipeline against a raw aio-pika relay on one RabbitMQ.

Run with ``.venv/bin/python -m bench.hub_vs_raw --help`` from the repository root;
docs/performance.md says what each number means. Nothing here asserts a time.
"""

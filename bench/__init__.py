"""`make bench`: the intake's throughput against a bare Django view, both served by gunicorn."""

# The bare view's address; bench.urls serves it, the runner posts to it.
BARE_PATH = "/bench/bare/"

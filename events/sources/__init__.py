"""One module per platform that delivers webhooks: how its requests are authenticated and read
(`openvolt.py`, `nectar.py`), what its events do (`*_handlers.py`), and its API client.
events/dispatch.py maps a source's name to them."""

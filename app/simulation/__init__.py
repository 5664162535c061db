"""``loans simulate`` and ``POST /v1/simulations``: one loan through the real engine."""

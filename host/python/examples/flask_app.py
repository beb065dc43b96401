"""A Stripe webhook endpoint on Flask with the payhook engine.

    STRIPE_WEBHOOK_SECRET=whsec_… python examples/flask_app.py     # listens on 127.0.0.1:4242

The signature covers the exact bytes Stripe sent, so the route reads the RAW body
(``request.get_data()``), never ``request.json``. A bad signature is a 400 (Stripe retries); a
verified delivery is handed to ``store`` (put it in your inbox, keyed by event id) and only then
acknowledged with a 200. Deciding what it means happens after, from the stored body.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable, Optional, Sequence

from flask import Flask, jsonify, request

from payhook_engine import DecodeError, Engine, Record, SignatureError


def create_app(
    secrets: Sequence[str],
    store: Callable[[bytes, Record], None] = lambda body, verified: None,
    engine: Optional[Engine] = None,
    now: Callable[[], int] = lambda: int(time.time()),
) -> Flask:
    """The app: ``POST /webhooks/stripe``. ``secrets`` are the endpoint's signing secrets, newest
    first; ``store(body, verified)`` persists the raw delivery before the 2xx."""
    engine = engine or Engine()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024

    @app.post("/webhooks/stripe")
    def stripe_webhook():
        body = request.get_data(cache=False)
        try:
            verified = engine.verify(request.headers.get("Stripe-Signature"), body, list(secrets), now=now())
        except (SignatureError, DecodeError) as e:
            # The message names the condition and never a secret; the tag is the WIT case.
            return jsonify(error=e.tag, message=str(e)), 400
        store(body, verified)  # raises, and so answers 500, when it was not stored: Stripe retries
        return jsonify(received=True), 200

    return app


def process_stored(engine: Engine, body: bytes) -> dict:
    """What a worker does with a stored delivery: decode it, then decide for each fact."""
    decoded = engine.decode_stored(body)
    return {"event": decoded.event.event_type, "facts": [f.kind.tag for f in decoded.facts]}


if __name__ == "__main__":
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        sys.exit("set STRIPE_WEBHOOK_SECRET to the endpoint signing secret (whsec_…)")
    shared = Engine()
    app = create_app([secret], store=lambda body, verified: print("stored", process_stored(shared, body)), engine=shared)
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "4242")))

"""Runs localstripe (the fake Stripe server from PyPI) for payhook's tests.

Usage: python localstripe_server.py PORT

It listens on 127.0.0.1 only (localstripe's own launcher listens on every interface) and keeps
nothing on disk (localstripe would otherwise write its whole store to a file in the temporary
folder after every change, shared by every instance on the machine).
"""

import sys

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    port = int(sys.argv[1])
    resources.store.dump_to_disk = lambda: None
    web.run_app(server.app, host="127.0.0.1", port=port, print=lambda *_: None)


if __name__ == "__main__":
    main()

"""moto's S3 server serving one request at a time.

moto checks a conditional create (`If-None-Match: *`) and then writes without a lock,
so two racing creates of one key can both win (the scale-out issue measured 2-3
winners in 7 of 150 races). A cluster's manifest commits are exactly such races, so
every request here runs under one lock, as a real S3 bucket decides them.

    python tests/e2e/moto_locked.py PORT
"""

from __future__ import annotations

import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server


def main() -> None:
    port = int(sys.argv[1])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        with lock:
            # The body is read out under the lock too: moto may build it lazily.
            return [b"".join(app(environ, start_response))]

    make_server("127.0.0.1", port, one_at_a_time, threaded=True).serve_forever()


if __name__ == "__main__":
    main()

"""gunicorn's configuration, one for every way the portal is served: `make gunicorn`, the Dockerfile and
docker-compose.yml (`gunicorn portal.wsgi -c gunicorn.conf.py`).

gthread workers: a worker serves up to `threads` requests at once, and a connection that sends nothing
(a keep-alive client between requests, or one that connected and is silent) waits in the worker's
poller, not in a thread. With sync workers each such client held a whole worker: five idle connections
stopped the site for the 30 s timeout. Clients that send slowly (a slow upload, headers a byte at a
time) are the reverse proxy's to absorb: nginx in docker-compose.yml buffers a request before it
reaches gunicorn. Every thread may hold a database connection: workers x threads stays well under
PostgreSQL's max_connections (100 by default) with the worker and beat beside it.

Command-line options and GUNICORN_CMD_ARGS win over this file (`--bind`, `--workers`, ...);
WEB_CONCURRENCY sets the number of workers.
"""

import os

import gunicorn.workers.gthread

# gthread gives each new connection a thread for up to 5 s to send its request before parking it in
# the poller (DEFAULT_WORKER_DATA_TIMEOUT, not a setting of gunicorn 27): as many silent connections
# as threads would hold a worker for 5 s, and 200 of them for a minute. A client sends its request
# with the connection, so a twentieth of a second is plenty; a later one is woken by the poller.
if hasattr(gunicorn.workers.gthread, "DEFAULT_WORKER_DATA_TIMEOUT"):
    gunicorn.workers.gthread.DEFAULT_WORKER_DATA_TIMEOUT = 0.05

bind = ["0.0.0.0:8000"]
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1) + 1)
threads = 8
# Connections (busy or idle) a worker holds at once; past it the kernel queues them (backlog).
worker_connections = 1000
backlog = 2048
# Seconds an idle keep-alive connection is kept: short, a proxy in front keeps its own pool.
keepalive = 5
# A request still running after this long gets its worker restarted (the database's
# DATABASE_STATEMENT_TIMEOUT of 30 s ends a slow query first, answered 503).
timeout = 35
graceful_timeout = 30
# A request line and headers of at most these sizes (gunicorn's defaults, written down).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
errorlog = "-"

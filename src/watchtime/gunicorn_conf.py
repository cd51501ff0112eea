"""gunicorn settings for `watchtime api` (read from the environment, see docs/operations.md)."""

import os
import shutil

from gunicorn import glogging

from watchtime import env

bind = f"0.0.0.0:{env.get_int('PORT', 8000, minimum=1)}"
workers = env.get_int("WEB_CONCURRENCY", 2, minimum=1)
# Threads let one worker wait on broker confirms for many requests at once.
worker_class = "gthread"
threads = env.get_int("GUNICORN_THREADS", 32, minimum=1)  # ingest threads wait for confirms (docs/performance.md)
# Kept below the pod's terminationGracePeriodSeconds minus the preStop sleep.
graceful_timeout = env.get_int("GUNICORN_GRACEFUL_TIMEOUT", 25, minimum=1)
timeout = 30
keepalive = 75  # longer than typical ingress/load-balancer idle timeouts (60 s)
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No runtime control socket: nothing uses it, and the root filesystem is read-only.
control_socket_disable = True
# Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads connections over
# the workers. On one shared socket the first worker to wake took all or all but one of 16
# keep-alive connections (bench/): the other core sat idle and throughput halved.
reuse_port = True
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'


class AccessLogger(glogging.Logger):
    """gunicorn's logger, its access line built from the atoms `access_log_format` uses: the stock
    one builds about a hundred per request (a strftime, every request and response header, every
    environ variable) for a line that prints five."""

    def atoms(self, resp, req, environ, request_time):
        status = resp.status
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status.split(None, 1)[0] if isinstance(status, str) else status,
            "B": getattr(resp, "sent", None),
            "M": request_time.seconds * 1000 + request_time.microseconds // 1000,
        }


logger_class = AccessLogger
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "watchtime.jsonlog.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}


def on_starting(server):
    # Samples of workers from an earlier run must not be summed into this one.
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def when_ready(server):
    from watchtime import metrics

    metrics.mark_build("api")
    metrics.serve(env.get_int("WATCHTIME_METRICS_PORT", 9100, minimum=1))


def post_worker_init(worker):
    from django.conf import settings

    from watchtime.db import replica

    if replica.configured():
        replica.monitor().start()  # its lag is known before the first read arrives

    if settings.RABBITMQ is not None:
        from watchtime import broker

        broker.publisher()  # start connecting before the first request arrives


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

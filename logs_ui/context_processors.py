from django.http import HttpRequest

from gateway import log as request_log
from gateway.log import health


def log_health(request: HttpRequest) -> dict:
    """What the banner on every page says when the log is in trouble (to anyone signed in)."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return {}
    status = request_log.status()
    return {
        "log_problem": health.problem(status),
        "log_set_aside": status["set_aside"],
        "log_lost": status["lost_when_killed"],
    }

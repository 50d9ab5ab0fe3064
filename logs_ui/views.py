from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from gateway.models import RequestLog


@staff_member_required
def log_list(request: HttpRequest) -> HttpResponse:
    logs = RequestLog.objects.order_by("-id")[:100]
    return render(request, "logs_ui/log_list.html", {"logs": logs})

"""The request log in the admin: read-only (the logs UI at /logs/ is the place to read it)."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse

from gateway.models import RequestLog
from logs_ui.templatetags.iris import ms


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("2xx", "2xx"), ("4xx", "4xx"), ("5xx", "5xx")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if value := self.value():
            low = int(value[0]) * 100
            return queryset.filter(status_code__gte=low, status_code__lt=low + 100)
        return queryset


class EndpointFilter(admin.SimpleListFilter):
    title = "endpoint"
    parameter_name = "endpoint"
    ENDPOINTS = ("chat.completions", "images.generations", "images.edits", "images.variations")

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [(e, e) for e in self.ENDPOINTS]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(endpoint=value) if (value := self.value()) else queryset


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "provider",
        "provider_slug",
        "model",
        "endpoint",
        "status_code",
        "latency",
        "total_tokens",
        "image_count",
        "output_image_count",
        "api_key",
    )
    # Static filters only: a filter on a free-text column runs SELECT DISTINCT over the log.
    list_filter = (StatusFilter, EndpointFilter, "is_stream")
    search_fields = ("=request_id", "=trace_id", "=provider_slug", "model")
    list_select_related = ("api_key",)
    show_full_result_count = False  # COUNT(*) over millions of rows on every page
    ordering = ("-id",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RequestLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: RequestLog | None = None) -> bool:
        return False

    @admin.display(description="latency", ordering="latency_ms")
    def latency(self, log: RequestLog) -> str:
        """As the logs UI shows it ("46 ms", "1.53 s"), not a float's seventeen digits."""
        return ms(log.latency_ms)

    def get_view_on_site_url(self, obj: RequestLog | None = None) -> str | None:
        return reverse("logs_ui:detail", args=[obj.pk]) if obj else None

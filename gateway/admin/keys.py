"""Gateway API keys in the admin: created with the key shown once, revoked, scoped."""

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone

from gateway.models import ApiKey


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("active", "active"), ("revoked", "revoked"), ("expired", "expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        if self.value() == "active":
            return queryset.filter(unexpired, revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now, revoked_at__isnull=True)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "prefix_display",
        "status",
        "can_read_logs",
        "allowed",
        "default_config",
        "created_at",
        "last_used_at",
        "expires_at",
    )
    list_filter = (StatusFilter, "can_read_logs", "providers")
    search_fields = ("name", "prefix")
    filter_horizontal = ("providers",)
    readonly_fields = ("prefix_display", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request).select_related("default_config")
        return qs.prefetch_related("providers")

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        fields = ["name", "can_read_logs", "providers", "default_config", "expires_at"]
        if obj is not None:
            fields[1:1] = ["prefix_display", "created_at", "last_used_at", "revoked_at"]
        return fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if not change:
            # Kept on the request, never stored: response_add shows it once.
            request.iris_new_key = obj.assign_new_key()
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue=None):
        raw = getattr(request, "iris_new_key", "")
        if not raw or "_popup" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "key": obj,
            "raw_key": raw,
            "title": f"Gateway API key {obj.name!r} created",
        }
        # No redirect (and no message in the session or a cookie): the key lives only in this
        # response, which the admin's never_cache keeps out of caches.
        return TemplateResponse(request, "admin/gateway/apikey/key_created.html", context)

    @admin.display(description="key")
    def prefix_display(self, key: ApiKey) -> str:
        return f"{key.prefix}…"

    @admin.display(description="status")
    def status(self, key: ApiKey) -> str:
        if key.revoked_at:
            return "revoked"
        return "active" if key.is_active else "expired"

    @admin.display(description="allowed providers")
    def allowed(self, key: ApiKey) -> str:
        return ", ".join(f"@{p.slug}" for p in key.providers.all()) or "any"

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        now, revoked = timezone.now(), 0
        for key in queryset.filter(revoked_at__isnull=True):
            key.revoked_at = now
            key.save(update_fields=["revoked_at"])  # save(): the signal clears the key cache
            revoked += 1
        self.message_user(
            request, f"Revoked {revoked} key(s): requests with them now get 401.", messages.SUCCESS
        )

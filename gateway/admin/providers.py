"""Providers in the admin: write-only credentials, fieldsets per kind, stats, Test connection."""

from datetime import timedelta
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from gateway.admin.probe import Outcome, try_connections
from gateway.models import SECRETS, Provider, RequestLog, keys_limited_to


def _secret(name: str) -> forms.CharField:
    return forms.CharField(
        label=SECRETS[name],
        required=False,
        strip=True,
        # render_value=False: a stored or just-typed secret never goes back into the page.
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Not set.",
    )


def _clear(name: str) -> forms.BooleanField:
    return forms.BooleanField(
        label="clear", required=False, help_text=f"Remove the stored {SECRETS[name]}."
    )


class ProviderForm(forms.ModelForm):
    """A Provider with write-only secrets: blank keeps the stored one, "clear" removes it."""

    api_key = _secret("api_key")
    clear_api_key = _clear("api_key")
    aws_access_key_id = _secret("aws_access_key_id")
    clear_aws_access_key_id = _clear("aws_access_key_id")
    aws_secret_access_key = _secret("aws_secret_access_key")
    clear_aws_secret_access_key = _clear("aws_secret_access_key")
    aws_session_token = _secret("aws_session_token")
    clear_aws_session_token = _clear("aws_session_token")

    class Meta:
        model = Provider
        fields = (
            "name",
            "slug",
            "kind",
            "enabled",
            "default_model",
            "base_url",
            "azure_resource_name",
            "azure_deployment_id",
            "azure_api_version",
            "aws_region",
            "timeout",
            "extra_headers",
            "notes",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in SECRETS:
            if stored := self.instance.masked(name) if self.instance.pk else "":
                self.fields[name].help_text = f"Stored: {stored}. Leave blank to keep it."

    def clean(self) -> dict:
        data = super().clean()
        secrets = {name: self._secret_after_save(name) for name in SECRETS}
        kind, base_url = data.get("kind"), data.get("base_url")
        if kind == "azure-openai" and not (data.get("azure_resource_name") or base_url):
            self.add_error("azure_resource_name", "Azure needs the resource name (or a base URL).")
        if kind == "bedrock":
            if bool(secrets["aws_access_key_id"]) != bool(secrets["aws_secret_access_key"]):
                self.add_error("aws_secret_access_key", "Give both AWS keys, or neither.")
            if not (secrets["aws_access_key_id"] or secrets["api_key"]):
                self.add_error("aws_access_key_id", "Bedrock needs AWS keys or an API key.")
            # Signing needs the region even for a custom host; an API key to one does not.
            if not data.get("aws_region") and (secrets["aws_access_key_id"] or not base_url):
                self.add_error("aws_region", "Bedrock needs the AWS region.")
        return data

    def _secret_after_save(self, name: str) -> bool:
        """Will a secret be set once saved? (Its value is not needed, only whether it is.)"""
        if self.cleaned_data.get(name):
            return True
        if self.cleaned_data.get(f"clear_{name}") or not self.instance.pk:
            return False
        return bool(self.instance.masked(name))

    def save(self, commit: bool = True) -> Provider:
        provider = super().save(commit=False)
        for name in SECRETS:
            if value := self.cleaned_data.get(name):
                provider.set_credential(name, value)
            elif self.cleaned_data.get(f"clear_{name}"):
                provider.set_credential(name, "")
        if commit:
            provider.save()
            self._save_m2m()
        return provider


def with_stats(queryset: QuerySet) -> QuerySet:
    """Requests, tokens and errors of the last 24 hours, and the last error: one query."""
    since = timezone.now() - timedelta(hours=24)
    logs = RequestLog.objects.filter(provider_slug=OuterRef("slug")).order_by()
    recent = logs.filter(created_at__gte=since).values("provider_slug")
    errors = logs.filter(status_code__gte=400).order_by("-created_at")

    def total(rows: QuerySet, aggregate) -> Coalesce:
        value = rows.annotate(value=aggregate).values("value")
        return Coalesce(Subquery(value, output_field=IntegerField()), 0)

    return queryset.annotate(
        requests_24h=total(recent, Count("pk")),
        tokens_24h=total(recent, Sum("total_tokens")),
        errors_24h=total(recent.filter(status_code__gte=400), Count("pk")),
        last_error_id=Subquery(errors.values("pk")[:1]),
        last_error_at=Subquery(errors.values("created_at")[:1]),
        last_error_status=Subquery(errors.values("status_code")[:1]),
        last_error_message=Subquery(errors.values("error_message")[:1]),
    )


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = (
        "slug_display",
        "kind_short",
        "enabled",
        "upstream",
        "requests_24h",
        "tokens_24h",
        "errors_24h",
        "last_error",
    )
    list_display_links = ("slug_display",)
    list_filter = ("kind", "enabled")
    search_fields = ("slug", "name", "base_url", "default_model", "notes")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "updated_at")
    actions = ("test_connection", "enable", "disable")
    # "iris-kind-<kind>" fieldsets show for that kind only (change_form.html's script).
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "enabled", "default_model", "base_url")}),
        ("Credentials", {"fields": (("api_key", "clear_api_key"),)}),
        (
            "Azure OpenAI",
            {
                "classes": ("iris-kind", "iris-kind-azure-openai"),
                "fields": ("azure_resource_name", "azure_deployment_id", "azure_api_version"),
            },
        ),
        (
            "AWS Bedrock",
            {
                "classes": ("iris-kind", "iris-kind-bedrock"),
                "fields": (
                    "aws_region",
                    ("aws_access_key_id", "clear_aws_access_key_id"),
                    ("aws_secret_access_key", "clear_aws_secret_access_key"),
                    ("aws_session_token", "clear_aws_session_token"),
                ),
            },
        ),
        ("Requests", {"fields": ("timeout", "extra_headers")}),
        ("Notes", {"fields": ("notes", "created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return with_stats(super().get_queryset(request))

    def get_urls(self) -> list:
        test = self.admin_site.admin_view(self.test_connection_view)
        url = path("<path:object_id>/test-connection/", test, name="gateway_provider_test")
        return [url, *super().get_urls()]

    def get_deleted_objects(self, objs, request: HttpRequest) -> tuple:
        """Refuse to delete a provider that keys are limited to: with it gone, an empty list
        of allowed providers would mean "any provider"."""
        deleted, counts, perms, protected = super().get_deleted_objects(objs, request)
        for key in keys_limited_to(list(objs)):
            protected.append(f"{key} may use only these providers: edit the key first")
        return deleted, counts, perms, protected

    # --- columns ----------------------------------------------------------------------

    @admin.display(description="provider", ordering="slug")
    def slug_display(self, provider: Provider) -> str:
        """The slug, its name under it: one column for the two."""
        return format_html('{}<div class="iris-sub">{}</div>', str(provider), provider.name)

    # Short cells, the whole value on hover: the list fits a 1440 px window without scrolling.
    @admin.display(description="kind", ordering="kind")
    def kind_short(self, provider: Provider) -> str:
        return format_html('<span title="{}">{}</span>', provider.get_kind_display(), provider.kind)

    @admin.display(description="upstream")
    def upstream(self, provider: Provider) -> str:
        if not provider.base_url:
            return "public API"
        host = urlsplit(provider.base_url).netloc or provider.base_url
        return format_html('<span title="{}">{}</span>', provider.base_url, host)

    @admin.display(description="requests (24 h)", ordering="requests_24h")
    def requests_24h(self, provider: Provider) -> int:
        return provider.requests_24h

    @admin.display(description="tokens (24 h)", ordering="tokens_24h")
    def tokens_24h(self, provider: Provider) -> int:
        return provider.tokens_24h

    @admin.display(description="errors (24 h)", ordering="errors_24h")
    def errors_24h(self, provider: Provider) -> int:
        return provider.errors_24h

    @admin.display(description="last error", ordering="last_error_at")
    def last_error(self, provider: Provider) -> str:
        if not provider.last_error_id:
            return "—"
        return format_html(  # one line, cut to the cell (static/admin.css), whole on hover
            '<a class="iris-clip" href="{}" title="{}">{} ago · {} {}</a>',
            reverse("logs_ui:detail", args=[provider.last_error_id]),
            provider.last_error_message,
            timesince(provider.last_error_at).split(",")[0],
            provider.last_error_status,
            provider.last_error_message[:80],
        )

    # --- actions ----------------------------------------------------------------------

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet) -> None:
        for outcome in try_connections(list(queryset), user=request.user.get_username()):
            self.report(request, outcome)

    @admin.action(description="Enable selected providers", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, enabled=True)

    @admin.action(description="Disable selected providers", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_enabled(request, queryset, enabled=False)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet, *, enabled: bool) -> None:
        changed = [p for p in queryset if p.enabled != enabled]
        for provider in changed:  # save(), not update(): the signal clears the routing cache
            provider.enabled = enabled
            provider.save(update_fields=["enabled", "updated_at"])
        state = "enabled" if enabled else "disabled"
        self.message_user(request, f"{len(changed)} provider(s) {state}.", messages.SUCCESS)

    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The change form's Test connection button: tests the saved record."""
        provider = self.get_object(request, unquote(object_id))
        if provider is None:
            raise Http404
        if request.method != "POST" or not self.has_change_permission(request, provider):
            raise PermissionDenied
        [outcome] = try_connections([provider], user=request.user.get_username())
        self.report(request, outcome)
        return redirect(reverse("admin:gateway_provider_change", args=[provider.pk]))

    def report(self, request: HttpRequest, outcome: Outcome) -> None:
        if outcome.ok:
            text, level = f"{outcome.provider}: connection OK. {outcome.message}", messages.SUCCESS
        else:
            text, level = f"{outcome.provider}: test failed. {outcome.message}", messages.ERROR
        self.message_user(request, text, level)

"""Saved routing configs in the admin: the JSON edited pretty-printed and validated (an error
names its path in the config), where each config is used, and no 500 when a key still uses
one that is being deleted.

A config's targets may carry credentials (`api_key`, AWS keys). They are write-only here, as a
provider's are: the form shows a placeholder instead of each, and a placeholder saved back
keeps the stored value.
"""

import json
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, ProtectedError, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from gateway.configs.models import Config
from gateway.models import ApiKey, RequestLog

SECRET_KEYS = ("api_key", "aws_access_key_id", "aws_secret_access_key", "aws_session_token")
_PLACEHOLDER = "[stored secret {}]"  # numbered in the order the stored body holds them
USES_CAP = 10_000  # requests counted on the change page; past it, "10,000+"


def _secrets_of(body: Any) -> list[tuple[str, str]]:
    """Every credential in a config body as (key, value), in document order: wherever its key
    is a credential's name, so none is ever shown, even one typed outside a target."""
    found: list[tuple[str, str]] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key in SECRET_KEYS and isinstance(value, str) and value:
                found.append((key, value))
            else:
                found += _secrets_of(value)
    elif isinstance(body, list):
        for item in body:
            found += _secrets_of(item)
    return found


def _mask(body: Any, secrets: list[tuple[str, str]]) -> Any:
    """The body with each credential replaced by its placeholder."""
    if isinstance(body, dict):
        return {
            key: _PLACEHOLDER.format(secrets.index((key, value)) + 1)
            if key in SECRET_KEYS and isinstance(value, str) and (key, value) in secrets
            else _mask(value, secrets)
            for key, value in body.items()
        }
    if isinstance(body, list):
        return [_mask(item, secrets) for item in body]
    return body


def _unmask(body: Any, secrets: list[tuple[str, str]], path: str = "") -> Any:
    """The body with each placeholder replaced by the stored credential it stands for: only
    at a target's own credential keys (the config's root and each node of `targets`, as
    gateway/configs/schema.py reads them), and only one of the same kind. Anywhere else
    (override_params is sent upstream and logged) a placeholder is refused with its path."""
    if not isinstance(body, dict):
        return _refuse_placeholders(body, path)
    node = {}
    for key, value in body.items():
        where = _at(path, key)
        if key in SECRET_KEYS:
            node[key] = _restored(value, secrets, where, key)
        elif key == "targets" and isinstance(value, list):
            node[key] = [_unmask(item, secrets, f"{where}[{i}]") for i, item in enumerate(value)]
        else:
            node[key] = _refuse_placeholders(value, where)
    return node


def _refuse_placeholders(value: Any, path: str) -> Any:
    if isinstance(value, dict):
        return {key: _refuse_placeholders(item, _at(path, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_refuse_placeholders(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if _is_placeholder(value):
        raise forms.ValidationError(
            f"{path}: {value} can only stand for a credential of a target (api_key, aws_*), "
            "where it was stored: type the value here."
        )
    return value


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[stored secret ")


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _restored(value: Any, secrets: list[tuple[str, str]], path: str, key: str) -> Any:
    if not _is_placeholder(value):
        return _refuse_placeholders(value, path)  # not a string: the schema says what it wants
    number = value.removeprefix("[stored secret ").removesuffix("]")
    if number.isdigit() and 1 <= int(number) <= len(secrets):
        stored_key, secret = secrets[int(number) - 1]
        if stored_key == key:
            return secret
        raise forms.ValidationError(
            f"{path}: {value} is not a stored {key} (it is an {stored_key}): type the value again."
        )
    raise forms.ValidationError(
        f"{path}: {value} is not a stored secret of this config: type the value again."
    )


class PrettyJSONField(forms.JSONField):
    """JSON shown indented, so a config with nested targets can be read and edited."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class ConfigForm(forms.ModelForm):
    body = PrettyJSONField(
        label="Config",
        widget=forms.Textarea(attrs={"rows": 24, "cols": 90, "class": "vLargeTextField"}),
        help_text=Config._meta.get_field("body").help_text
        + " Stored credentials show as [stored secret n]: leave them to keep them.",
    )

    class Meta:
        model = Config
        fields = ("slug", "name", "enabled", "body")
        # The admin shows help text as HTML: the model's "<id>" would vanish as a tag.
        help_texts = {
            "slug": "What apps send: <code>x-portkey-config: &lt;id&gt;</code>, or "
            '<code>config="&lt;id&gt;"</code> in the portkey-ai SDK.',
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stored = _secrets_of(self.instance.body) if self.instance.pk else []
        if self.instance.pk and not self.is_bound:
            self.initial["body"] = _mask(self.instance.body, self._stored)

    def clean_body(self) -> Any:
        # Config.clean (schema.parse) then validates the real body, naming an error's path.
        return _unmask(self.cleaned_data["body"], self._stored)

    def add_error(self, field: str | None, error: Any) -> None:
        """Config.clean quotes nothing of the body but its paths; still, never show a stored
        credential in an error."""
        if self._stored:
            if not isinstance(error, forms.ValidationError):
                error = forms.ValidationError(error)
            text = json.dumps(error.messages)
            if any(secret in text for _, secret in self._stored):
                error = forms.ValidationError("The config is invalid.")
        super().add_error(field, error)


def with_usage(queryset: QuerySet) -> QuerySet:
    """The keys using each config by default, and its requests of the last 24 hours and the
    last one: subqueries on the log's (config_id, -id) index."""
    since = timezone.now() - timedelta(hours=24)
    logs = RequestLog.objects.filter(config_id=OuterRef("slug")).order_by()
    recent = logs.filter(created_at__gte=since).values("config_id")
    recent = recent.annotate(n=Count("pk")).values("n")
    keys = ApiKey.objects.filter(default_config=OuterRef("pk")).order_by().values("default_config")
    keys = keys.annotate(n=Count("pk")).values("n")
    return queryset.annotate(
        keys_count=Coalesce(Subquery(keys, output_field=IntegerField()), 0),
        requests_24h=Coalesce(Subquery(recent, output_field=IntegerField()), 0),
        last_used_at=Subquery(logs.order_by("-id").values("created_at")[:1]),
    )


@admin.register(Config)
class ConfigAdmin(admin.ModelAdmin):
    form = ConfigForm
    list_display = ("slug", "name", "enabled", "keys_count", "requests_24h", "last_used")
    list_display_links = ("slug", "name")
    list_filter = ("enabled",)
    search_fields = ("slug", "name")
    readonly_fields = ("where_used", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("slug", "name", "enabled", "body")}),
        ("Where used", {"fields": ("where_used",)}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return with_usage(super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj: Config | None = None) -> tuple:
        return self.fieldsets if obj is not None else self.fieldsets[:1]

    # --- columns ----------------------------------------------------------------------

    @admin.display(description="keys using it by default", ordering="keys_count")
    def keys_count(self, config: Config) -> int:
        return config.keys_count

    @admin.display(description="requests (24 h)", ordering="requests_24h")
    def requests_24h(self, config: Config) -> str:
        if not config.requests_24h:
            return "0"
        return format_html('<a href="{}">{}</a>', _logs_url(config.slug), config.requests_24h)

    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, config: Config) -> Any:
        return config.last_used_at or "—"

    @admin.display(description="where used")
    def where_used(self, config: Config) -> str:
        keys = list(ApiKey.objects.filter(default_config=config).order_by("name"))
        if keys:
            links = format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                ((reverse("admin:gateway_apikey_change", args=[k.pk]), str(k)) for k in keys),
            )
            by_keys = format_html("The default config of {} key{}: {}.", len(keys), _s(keys), links)
        else:
            by_keys = "No gateway key uses it by default."
        uses = RequestLog.objects.filter(config_id=config.slug).order_by()[:USES_CAP].count()
        count = f"{USES_CAP:,}+" if uses >= USES_CAP else f"{uses:,}"
        return format_html(
            '{}<br>Routed <a href="{}">{} request{}</a> in the log (apps name it in '
            "x-portkey-config, or a key uses it by default).",
            by_keys,
            _logs_url(config.slug),
            count,
            "" if uses == 1 else "s",
        )

    # --- deleting one a key still uses -------------------------------------------------

    def get_deleted_objects(self, objs, request: HttpRequest) -> tuple:
        """A key's default config is PROTECTed: name each key, linked, and what to do."""
        deleted, counts, perms, protected = super().get_deleted_objects(objs, request)
        keys = ApiKey.objects.filter(default_config__in=list(objs)).select_related("default_config")
        if keys:
            protected = [
                format_html(
                    'Gateway API key <a href="{}">{}</a> uses config {} by default: '
                    "choose another default config for the key (or none) first.",
                    reverse("admin:gateway_apikey_change", args=[key.pk]),
                    str(key),
                    key.default_config.slug,
                )
                for key in keys
            ]
        return deleted, counts, perms, protected

    def delete_view(self, request: HttpRequest, object_id: str, extra_context=None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ProtectedError:  # a key took it as its default since the page was shown
            return self._refused(request)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        try:
            return super().changelist_view(request, extra_context)
        except ProtectedError:  # the bulk delete action, in the same race
            return self._refused(request)

    def _refused(self, request: HttpRequest) -> HttpResponse:
        self.message_user(
            request,
            "Not deleted: a gateway API key uses this config by default. "
            "Choose another default config for the key first.",
            messages.ERROR,
        )
        return redirect(reverse("admin:gateway_config_changelist"))


def _logs_url(slug: str) -> str:
    return f"{reverse('logs_ui:list')}?{urlencode({'config': slug})}"


def _s(items: list) -> str:
    return "" if len(items) == 1 else "s"

"""Prompts in the admin: listed with their versions; versions are read-only (the editor at
/logs/prompts/ saves new ones) and never deleted, so a number pinned as `id@N` always means
the same messages."""

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse

from gateway.models import Prompt, PromptVersion
from gateway.prompts import RESERVED_IDS


class PromptAdminForm(forms.ModelForm):
    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug in RESERVED_IDS and slug != self.instance.slug:
            raise forms.ValidationError(f"“{slug}” is a page of the editor: choose another id.")
        return slug


class VersionInline(admin.TabularInline):
    model = PromptVersion
    fields = ("number", "model", "note", "created_at", "created_by")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Prompt | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Prompt | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Prompt | None = None) -> bool:
        return False


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    form = PromptAdminForm
    list_display = ("slug", "name", "provider", "model", "default_version", "updated_at")
    search_fields = ("slug", "name")
    readonly_fields = ("default_version", "created_at", "updated_at")
    inlines = [VersionInline]

    def get_view_on_site_url(self, obj: Prompt | None = None) -> str | None:
        return reverse("logs_ui:prompt", args=[obj.slug]) if obj else None


@admin.register(PromptVersion)
class PromptVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "prompt", "number", "model", "note", "created_at", "created_by")
    list_filter = ("prompt",)
    list_select_related = ("prompt",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PromptVersion | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PromptVersion | None = None) -> bool:
        return False

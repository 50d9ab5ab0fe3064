"""The admin: providers and their credentials, gateway API keys, routing configs, prompts,
the request log."""

from django.contrib import admin

from gateway.admin import configs, keys, logs, prices, prompts, providers

# Iris's top bar (templates/admin/base_site.html) leads to the admin's index; without the
# sidebar a list's columns fit a 1440 px window.
admin.site.enable_nav_sidebar = False
admin.site.site_header = admin.site.site_title = "Iris admin"

__all__ = ["configs", "keys", "logs", "prices", "prompts", "providers"]

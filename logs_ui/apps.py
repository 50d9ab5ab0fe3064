from django.apps import AppConfig


class LogsUiConfig(AppConfig):
    name = "logs_ui"
    verbose_name = "Logs UI"

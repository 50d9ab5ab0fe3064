from django.urls import path

from logs_ui import views

app_name = "logs_ui"

urlpatterns = [
    path("", views.log_list, name="list"),
]

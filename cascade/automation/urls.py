from __future__ import annotations

from django.urls import path

from cascade.automation import views

urlpatterns: list = []

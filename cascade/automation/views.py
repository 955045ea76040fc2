from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from django.views.static import serve


@require_GET
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # the point of this endpoint is to say so
        return JsonResponse({"status": "error", "detail": f"database: {exc}"}, status=503)
    return JsonResponse({"status": "ok"})


@require_GET
def media(request, path):
    """Generated pictures. Behind a reverse proxy, let it serve MEDIA_ROOT directly instead."""
    return serve(request, path, document_root=settings.MEDIA_ROOT)

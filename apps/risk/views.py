from django.http import HttpResponse


def panel(request, pk):  # type: ignore[no-untyped-def]
    return HttpResponse("")

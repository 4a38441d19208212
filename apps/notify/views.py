from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import services
from .access import can_manage_subscriptions, get_notification_for, get_subscription_for
from .forms import SubscriptionForm
from .models import Delivery, Notification, Subscription

PAGE_SIZE = 50
LOG_SIZE = 50


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    items = Notification.objects.for_user(request.user)
    if request.GET.get("unread"):
        items = items.unread()
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notify/notification_list.html",
        {"page": page, "unread_only": bool(request.GET.get("unread"))},
    )


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_notification_for(request.user, pk)
    services.mark_read(user=request.user, notification_id=item.pk)
    if request.POST.get("open") and item.url.startswith("/"):
        return redirect(item.url)
    if request.htmx:
        item.refresh_from_db()
        return render(request, "notify/notification_list.html#item", {"item": item})
    return redirect("notify:inbox")


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = services.mark_read(user=request.user)
    messages.success(request, f"{count} notification(s) marked read.")
    return redirect("notify:inbox")


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_subscriptions(request.user):
        raise PermissionDenied


@login_required
def subscription_list(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    form = SubscriptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.save_subscription(
            subscription=None,
            fields=form.subscription_fields(),
            target=form.cleaned_data["target"],
            secret=form.cleaned_data.get("secret") or None,
            by=request.user,
        )
        messages.success(request, "Subscription added.")
        return redirect("notify:subscriptions")
    return render(
        request,
        "notify/subscription_list.html",
        {
            "subscriptions": Subscription.objects.select_related("team"),
            "deliveries": Delivery.objects.for_log()[:LOG_SIZE],
            "form": form,
        },
        status=400 if form.errors else 200,
    )


@login_required
def subscription_edit(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_subscription_for(request.user, pk)
    form = SubscriptionForm(request.POST or None, instance=subscription)
    if request.method == "POST" and form.is_valid():
        services.save_subscription(
            subscription=subscription,
            fields=form.subscription_fields(),
            target=form.cleaned_data["target"] or None,
            secret=form.cleaned_data.get("secret") or None,
            by=request.user,
        )
        messages.success(request, "Subscription saved.")
        return redirect("notify:subscriptions")
    return render(
        request,
        "notify/subscription_form.html",
        {"form": form, "subscription": subscription},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_subscription_for(request.user, pk)
    subscription.delete()
    messages.success(request, f"Subscription “{subscription.name}” removed.")
    return redirect("notify:subscriptions")

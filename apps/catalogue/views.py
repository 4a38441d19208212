"""Catalogue pages: platform edits models and GPU profiles; readers see them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from . import services
from .filters import CatalogModelFilter
from .forms import CatalogModelForm, GpuProfileForm
from .models import CatalogModel, GpuProfile, PriceSnapshot

HISTORY_LENGTH = 20


def history_of(obj: Model) -> list[dict[str, Any]]:
    """The last changes of a versioned row, newest first, with what changed."""
    records = list(
        obj.history.select_related("history_user").order_by("-history_id")[  # type: ignore[attr-defined]
            : HISTORY_LENGTH + 1
        ]
    )
    rows = []
    for newer, older in zip(records, [*records[1:], None], strict=False):
        if len(rows) == HISTORY_LENGTH:
            break
        changes = (
            [
                (c.field, c.old, c.new)
                for c in newer.diff_against(older).changes
                if c.field != "updated_at"
            ]
            if older is not None
            else []
        )
        rows.append({"record": newer, "changes": changes, "created": older is None})
    return rows


@login_required
@permission_required("catalogue.view_catalogmodel", raise_exception=True)
def catalogue_list(request: HttpRequest) -> HttpResponse:
    filterset = CatalogModelFilter(
        request.GET or None, queryset=CatalogModel.objects.for_list()
    )
    models = (
        filterset.qs
        if filterset.is_bound and filterset.is_valid()
        else (CatalogModel.objects.for_list())
    )
    template = "catalogue/catalogue_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#models"
    return render(
        request,
        template,
        {
            "filter": filterset,
            "models": models,
            "gpu_profiles": GpuProfile.objects.all(),
            "snapshots": PriceSnapshot.objects.select_related("created_by")[:10],
            "can_edit": request.user.has_perm("catalogue.change_catalogmodel"),
        },
    )


@login_required
@permission_required("catalogue.view_catalogmodel", raise_exception=True)
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(CatalogModel.objects.for_list(), pk=pk)
    return render(
        request,
        "catalogue/catalogmodel_detail.html",
        {
            "model": model,
            "history": history_of(model),
            "can_edit": request.user.has_perm("catalogue.change_catalogmodel"),
        },
    )


@login_required
@permission_required("catalogue.add_catalogmodel", raise_exception=True)
def model_create(request: HttpRequest) -> HttpResponse:
    return _edit_model(request, CatalogModel())


@login_required
@permission_required("catalogue.change_catalogmodel", raise_exception=True)
def model_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit_model(request, get_object_or_404(CatalogModel, pk=pk))


def _edit_model(request: HttpRequest, model: CatalogModel) -> HttpResponse:
    form = CatalogModelForm(request.POST or None, instance=model)
    if request.method == "POST" and form.is_valid():
        snapshot = services.save_catalogue_model(
            model=form.save(commit=False),
            by=request.user,
            reason=form.cleaned_data["reason"],
        )
        messages.success(
            request, f"Saved {model.name}; prices recorded as snapshot {snapshot.key}."
        )
        return redirect("catalogue:model_detail", pk=model.pk)
    return render(
        request, "catalogue/catalogmodel_form.html", {"form": form, "model": model}
    )


@login_required
@permission_required("catalogue.view_gpuprofile", raise_exception=True)
def gpu_detail(request: HttpRequest, pk: int) -> HttpResponse:
    profile = get_object_or_404(GpuProfile, pk=pk)
    return render(
        request,
        "catalogue/gpuprofile_detail.html",
        {
            "profile": profile,
            "history": history_of(profile),
            "can_edit": request.user.has_perm("catalogue.change_gpuprofile"),
        },
    )


@login_required
@permission_required("catalogue.add_gpuprofile", raise_exception=True)
def gpu_create(request: HttpRequest) -> HttpResponse:
    return _edit_gpu(request, GpuProfile())


@login_required
@permission_required("catalogue.change_gpuprofile", raise_exception=True)
def gpu_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit_gpu(request, get_object_or_404(GpuProfile, pk=pk))


def _edit_gpu(request: HttpRequest, profile: GpuProfile) -> HttpResponse:
    form = GpuProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        snapshot = services.save_gpu_profile(
            profile=form.save(commit=False),
            by=request.user,
            reason=form.cleaned_data["reason"],
        )
        messages.success(
            request, f"Saved {profile.name}; recorded as snapshot {snapshot.key}."
        )
        return redirect("catalogue:gpu_detail", pk=profile.pk)
    return render(
        request, "catalogue/gpuprofile_form.html", {"form": form, "profile": profile}
    )

"""Playground pages: the side-by-side page and its stream, runs, test sets."""

from __future__ import annotations

import json
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.usecases.access import get_use_case_for
from apps.usecases.models import UseCase

from . import ratelimit, services, snapshot
from .access import AttachForbidden
from .forms import (
    AttachForm,
    DataProfileForm,
    RunForm,
    TestInputForm,
    TestSetForm,
    TestSetJudgeForm,
    TestSetRunForm,
)
from .guard import EXTERNAL, DataDeclaration, GuardRefused
from .models import (
    MAX_COLUMNS,
    PlaygroundRun,
    TestSet,
    TestSetRun,
    can_manage_test_sets,
    may_use_playground,
)
from .rendering import render_markdown
from .runner import ColumnDone, Delta, Started, stream_columns

USE = "playground.add_playgroundrun"
READ = "playground.view_playgroundrun"


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied("Your role does not allow this.")


@dataclass(frozen=True)
class TargetGroup:
    """One endpoint in the model pickers, disabled when the data may not go there."""

    name: str
    location: str
    location_label: str
    allowed: bool
    options: list[tuple[str, str]]  # (value, model)


def target_groups(declaration: DataDeclaration) -> list[TargetGroup]:
    may_leave = declaration.may_leave()
    groups = []
    for endpoint in services.playground_endpoints():
        options = [
            (services.target_value(endpoint.pk, model), model)
            for model in endpoint.served_models or []
        ]
        if options:
            groups.append(
                TargetGroup(
                    name=endpoint.name,
                    location=endpoint.location,
                    location_label=endpoint.get_location_display(),
                    allowed=endpoint.location != EXTERNAL or may_leave,
                    options=options,
                )
            )
    return groups


def _targets_context(
    declaration: DataDeclaration, selected: list[str]
) -> dict[str, Any]:
    groups = target_groups(declaration)
    allowed = {value for g in groups if g.allowed for value, _ in g.options}
    slots = [(v if v in allowed else "") for v in selected[:MAX_COLUMNS]]
    slots += [""] * (MAX_COLUMNS - len(slots))
    return {
        "groups": groups,
        "slots": slots,
        "declaration": declaration,
        "may_leave": declaration.may_leave(),
        "has_external": any(g.location == EXTERNAL for g in groups),
    }


@login_required
@require_GET
def playground(request: HttpRequest) -> HttpResponse:
    _require(request, USE)
    use_case_id = request.GET.get("use_case")
    form = RunForm(
        initial={"use_case": use_case_id} if use_case_id else None, user=request.user
    )
    declaration = DataDeclaration()
    if use_case_id:
        profile = DataProfileForm({"use_case": use_case_id}, user=request.user)
        if profile.is_valid():
            declaration = profile.declaration()
    recent = PlaygroundRun.objects.filter(owner=request.user).prefetch_related(
        "outputs"
    )[:5]
    return render(
        request,
        "playground/playground.html",
        {
            "form": form,
            "recent": recent,
            **_targets_context(declaration, request.GET.getlist("target")),
        },
    )


@login_required
@require_GET
def targets(request: HttpRequest) -> HttpResponse:
    """The model pickers for the stated data (htmx, on every change of the profile)."""
    _require(request, USE)
    profile = DataProfileForm(request.GET, user=request.user)
    profile.is_valid()
    return render(
        request,
        "playground/playground.html#targets",
        _targets_context(profile.declaration(), request.GET.getlist("target")),
    )


def _prepare_stream(request: HttpRequest) -> services.PreparedRun | HttpResponse:
    """Everything before the first upstream byte, in one trip to a thread.

    Authentication happens here too (not with ``login_required``), so the session
    and user are read once, in the same thread as the rest.
    """
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"detail": "Sign in first."}, status=401)
    snapshot.load_roles(user)  # from this process's cache: no query once read
    if not may_use_playground(user):
        return JsonResponse({"detail": "Your role does not allow this."}, status=403)
    wait = ratelimit.hit(user.pk)
    if wait is not None:
        response = JsonResponse(
            {"detail": f"Too many playground runs; try again in {wait} s."}, status=429
        )
        response["Retry-After"] = str(wait)
        return response
    form = RunForm(request.POST, user=user)
    if not form.is_valid():
        return JsonResponse(
            {"detail": "Check the form.", "errors": form.errors}, status=400
        )
    data = form.cleaned_data
    params = services.RunParams(
        prompt=data["prompt"],
        system_prompt=data["system_prompt"],
        temperature=data["temperature"],
        max_tokens=data["max_tokens"],
        targets=data["targets"],
        declaration=form.declaration(),
    )
    try:
        return services.prepare_run(user=user, params=params, via="page")
    except services.UnknownTarget as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    except GuardRefused as exc:
        return JsonResponse({"detail": exc.message, "refused": exc.refused}, status=403)


@require_POST
async def stream(request: HttpRequest) -> HttpResponseBase:
    """Server-sent events: each column's text as it comes, then its metrics.

    Events: ``start`` (the columns), ``delta`` (``column``, ``text``), ``column``
    (a column's end: status, error, metrics, sanitised HTML), ``done`` (the
    saved run). When the client goes away the upstream calls are cancelled and
    what came in is saved as stopped.
    """
    prepared = await sync_to_async(_prepare_stream)(request)
    if isinstance(prepared, HttpResponse):
        return prepared
    response = _RunStream(
        prepared, _events(prepared), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx must not buffer the stream
    return response


class _RunStream(StreamingHttpResponse):
    """The run's events; its usage is recorded once the stream has closed.

    Django closes a response after its last byte went out, so the client never
    waits for the ledger (which the writer's flusher fills later still).
    """

    def __init__(self, prepared: services.PreparedRun, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.prepared = prepared

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.prepared.run is not None:
                services.record_prepared_usage(prepared=self.prepared)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _events(prepared: services.PreparedRun) -> Any:
    stopped = True
    try:
        async with aclosing(
            stream_columns(
                targets=prepared.targets,
                request=prepared.params.chat_request(),
                results=prepared.results,
            )
        ) as events:
            async for event in events:
                if isinstance(event, Started):
                    columns = [t.describe() for t in prepared.targets]
                    yield _sse("start", {"columns": columns})
                elif isinstance(event, Delta):
                    yield _sse("delta", {"column": event.position, "text": event.text})
                elif isinstance(event, ColumnDone):
                    result = event.result
                    target = prepared.targets[result.position]
                    yield _sse(
                        "column",
                        {
                            "column": result.position,
                            "status": result.status,
                            "error": result.error,
                            "metrics": result.metrics(target),
                            "html": str(render_markdown(result.text)),
                        },
                    )
        stopped = False
    finally:
        run = await sync_to_async(services.save_run)(
            prepared=prepared, stopped=stopped, record_usage=False
        )
    yield _sse("done", {"run": run.pk, "url": run.get_absolute_url()})


# Saved runs.


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    _require(request, READ)
    runs = PlaygroundRun.objects.visible_to(request.user).for_list()
    if request.GET.get("scope") == "mine":
        runs = runs.filter(owner=request.user)
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    return render(request, "playground/playgroundrun_list.html", {"page": page})


def _get_run_for(request: HttpRequest, pk: int) -> PlaygroundRun:
    _require(request, READ)
    return get_object_or_404(
        PlaygroundRun.objects.visible_to(request.user).for_list(), pk=pk
    )


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run_for(request, pk)
    can_attach = run.can_attach(request.user)
    return render(
        request,
        "playground/playgroundrun_detail.html",
        {
            "run": run,
            "outputs": list(run.outputs.all()),
            "can_attach": can_attach,
            "attach_form": AttachForm(
                user=request.user, initial={"use_case": run.use_case_id}
            )
            if can_attach
            else None,
        },
    )


@login_required
@require_POST
def run_attach(request: HttpRequest, pk: int) -> HttpResponse:
    run = _get_run_for(request, pk)
    if not run.can_attach(request.user):
        raise PermissionDenied("Only the run's owner attaches it.")
    form = AttachForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("use_case", [])))
        return redirect(run)
    use_case = get_use_case_for(request.user, form.cleaned_data["use_case"].pk)
    try:
        services.attach_run(run=run, use_case=use_case, by=request.user)
    except AttachForbidden as exc:
        raise PermissionDenied(str(exc)) from exc
    messages.success(request, f"Attached to “{use_case}” as evidence.")
    return redirect(run)


# The use-case panel and test sets.


@login_required
def use_case_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """Evidence runs and test sets of a use-case (a panel of its detail page)."""
    use_case = get_use_case_for(request.user, pk)
    user = request.user
    # Only what the user may read of its own accord: a requester from another team
    # sees the use-case but not its runs' prompts or its test sets.
    runs = (
        PlaygroundRun.objects.visible_to(user)
        .filter(use_case=use_case)
        .prefetch_related("outputs")
        .select_related("owner")
        if user.has_perm(READ)
        else PlaygroundRun.objects.none()
    )
    test_sets = (
        TestSet.objects.visible_to(user)
        .filter(use_case=use_case)
        .prefetch_related("inputs")
    )
    template = "playground/usecase_panel.html"
    if request.htmx:
        template += "#panel"
    return render(
        request,
        template,
        {
            "use_case": use_case,
            "runs": runs,
            "test_sets": test_sets,
            "can_manage": can_manage_test_sets(user, use_case),
            "can_use": user.has_perm(USE),
        },
    )


@login_required
def test_set_create(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_for(request.user, pk)
    if not can_manage_test_sets(request.user, use_case):
        raise PermissionDenied("You cannot add test sets to this use-case.")
    form = TestSetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        test_set = services.create_test_set(
            use_case=use_case, by=request.user, **form.cleaned_data
        )
        return redirect(test_set)
    return render(
        request, "playground/testset_form.html", {"form": form, "use_case": use_case}
    )


def _get_test_set_for(
    request: HttpRequest, pk: int, *, manage: bool = False
) -> TestSet:
    _require(request, "playground.view_testset")
    test_set = get_object_or_404(
        TestSet.objects.visible_to(request.user).select_related("use_case"), pk=pk
    )
    if manage and not can_manage_test_sets(request.user, test_set.use_case):
        raise PermissionDenied("You cannot change this test set.")
    return test_set


@login_required
def test_set_detail(request: HttpRequest, pk: int) -> HttpResponse:
    test_set = _get_test_set_for(request, pk)
    return _test_set_page(request, test_set)


def _test_set_page(
    request: HttpRequest,
    test_set: TestSet,
    *,
    input_form: TestInputForm | None = None,
    run_form: TestSetRunForm | None = None,
    judge_form: TestSetJudgeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    use_case: UseCase = test_set.use_case
    can_manage = can_manage_test_sets(request.user, use_case)
    context = {
        "test_set": test_set,
        "use_case": use_case,
        "inputs": list(test_set.inputs.all()),
        "runs": test_set.runs.select_related("started_by")[:10],
        "can_manage": can_manage,
        "input_form": input_form or TestInputForm(),
        "run_form": run_form,
        "judge_form": judge_form or TestSetJudgeForm(instance=test_set),
    }
    if can_manage:
        selected = request.POST.getlist("target") if request.method == "POST" else []
        context.update(
            _targets_context(DataDeclaration.of_use_case(use_case), selected)
        )
    return render(request, "playground/testset_detail.html", context, status=status)


@login_required
@require_POST
def test_input_add(request: HttpRequest, pk: int) -> HttpResponse:
    test_set = _get_test_set_for(request, pk, manage=True)
    form = TestInputForm(request.POST)
    if not form.is_valid():
        return _test_set_page(request, test_set, input_form=form, status=400)
    form.instance.test_set = test_set
    form.save()
    return redirect(test_set)


@login_required
@require_POST
def test_set_judge(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose where the LLM judge runs; refused for an endpoint the data forbids."""
    test_set = _get_test_set_for(request, pk, manage=True)
    form = TestSetJudgeForm(request.POST, instance=test_set)
    if not form.is_valid():
        return _test_set_page(request, test_set, judge_form=form, status=400)
    form.save()
    return redirect(test_set)


@login_required
@require_POST
def test_input_delete(request: HttpRequest, pk: int, input_pk: int) -> HttpResponse:
    test_set = _get_test_set_for(request, pk, manage=True)
    test_set.inputs.filter(pk=input_pk).delete()
    return redirect(test_set)


@login_required
@require_POST
def test_set_run_start(request: HttpRequest, pk: int) -> HttpResponse:
    test_set = _get_test_set_for(request, pk, manage=True)
    form = TestSetRunForm(request.POST)
    if not form.is_valid():
        return _test_set_page(request, test_set, run_form=form, status=400)
    try:
        run = services.start_test_set_run(
            test_set=test_set, targets=form.cleaned_data["targets"], by=request.user
        )
    except services.UnknownTarget as exc:
        form.add_error(None, str(exc))
        return _test_set_page(request, test_set, run_form=form, status=400)
    except GuardRefused as exc:
        form.add_error(None, exc.message)
        return _test_set_page(request, test_set, run_form=form, status=403)
    return redirect(run)


@login_required
def test_set_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Progress (polled every second by htmx until done), then the scores side by side."""
    _require(request, "playground.view_testsetrun")
    run = get_object_or_404(
        TestSetRun.objects.filter(
            test_set__in=TestSet.objects.visible_to(request.user)
        ).select_related("test_set__use_case", "started_by"),
        pk=pk,
    )
    context = {
        "run": run,
        "test_set": run.test_set,
        "summary": run.summary() if run.is_finished else None,
    }
    if request.htmx:
        response = render(
            request, "playground/testsetrun_detail.html#progress", context
        )
        if run.is_finished:
            response["HX-Trigger"] = "test-set-run-finished"
        return response
    return render(request, "playground/testsetrun_detail.html", context)

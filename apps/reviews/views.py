from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from apps.usecases import lifecycle
from apps.usecases.access import get_use_case_for
from apps.usecases.models import UseCase

from . import assessments, services
from .filters import QUEUE_STATUSES, SORTS, QueueFilter
from .forms import CommentForm, DecisionForm
from .models import Comment, Decision
from .timeline import build_timeline

QUEUE_READERS = ("board", "auditor")


def _fragment(request: HttpRequest, template: str, name: str) -> str:
    return (
        f"{template}#{name}" if request.htmx and not request.htmx.boosted else template
    )


@login_required
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """Submitted and in-review use-cases, oldest first, for the board (auditors read)."""
    if not request.user.has_role(*QUEUE_READERS):
        raise PermissionDenied("The review queue is for the architecture board.")
    visible = UseCase.objects.visible_to(request.user)
    queryset = assessments.annotate_queue(
        visible.filter(status__in=QUEUE_STATUSES)
        .select_related("owner", "team")
        .prefetch_related("workloads")
        .order_by("submitted_at", "pk")
    )
    params = _without_blanks(request.GET)
    filterset = QueueFilter(params, queryset=queryset)
    results = filterset.qs if filterset.is_valid() else queryset.none()
    page = Paginator(results, 50).get_page(request.GET.get("page"))
    counts = dict(visible.values_list("status").annotate(n=Count("pk")).order_by())
    current = params.get("ordering", "")
    sort_links = {}
    for param in SORTS:
        query = params.copy()
        query.pop("page", None)
        query["ordering"] = f"-{param}" if current == param else param
        sort_links[param] = query.urlencode()
    return render(
        request,
        _fragment(request, "reviews/review_queue.html", "results"),
        {
            "filter": filterset,
            "page": page,
            "counts": [
                (status, label, counts.get(status, 0))
                for status, label in UseCase.Status.choices
                if status != UseCase.Status.DRAFT
            ],
            "sort_links": sort_links,
            "ordering": current,
            "query": params,
        },
    )


def _without_blanks(query: QueryDict) -> QueryDict:
    """The filter form sends every select, "Any" as an empty value: drop those."""
    cleaned = QueryDict(mutable=True)
    for key, values in query.lists():
        kept = [v for v in values if v.strip()]
        if kept:
            cleaned.setlist(key, kept)
    return cleaned


def _thread_context(request: HttpRequest, use_case: UseCase) -> dict:
    user = request.user
    return {
        "use_case": use_case,
        "comments": Comment.objects.visible_to(user)
        .filter(use_case=use_case)
        .select_related("author"),
        "decisions": Decision.objects.filter(use_case=use_case).select_related(
            "decided_by"
        ),
        "may_comment": services.may_comment(use_case, user),
        "may_note": services.may_comment(use_case, user, internal=True),
        "comment_form": CommentForm(),
    }


def _evidence(use_case: UseCase) -> list | None:
    """Playground runs attached to the use-case, once the playground provides them."""
    try:
        UseCase._meta.get_field("playground_runs")
    except FieldDoesNotExist:
        return None
    return list(use_case.playground_runs.prefetch_related("outputs")[:50])


def _review_context(
    request: HttpRequest, use_case: UseCase, form: DecisionForm | None = None
) -> dict:
    user = request.user
    review = assessments.for_review(use_case)
    may_decide = services.may_decide(user) and use_case.status in QUEUE_STATUSES
    if form is None and may_decide:
        recommended = review.recommendation if review else ""
        form = DecisionForm(initial={"pattern": recommended})
    return {
        **_thread_context(request, use_case),
        "workloads": list(use_case.workloads.all()),
        "review": review,
        "evidence": _evidence(use_case),
        "timeline": build_timeline(use_case=use_case, user=user),
        "decision_form": form if may_decide else None,
        "may_start": lifecycle.actor_may(use_case, UseCase.Status.IN_REVIEW, user),
        "catalogue_models": assessments.catalogue_model_names(),
    }


@login_required
@require_GET
def review(request: HttpRequest, pk: int) -> HttpResponse:
    """The board's page for one use-case: request, assessment, thread, decision."""
    use_case = get_use_case_for(request.user, pk)
    return render(
        request, "reviews/review_detail.html", _review_context(request, use_case)
    )


@login_required
@require_POST
def start(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_for(request.user, pk)
    try:
        services.start_review(use_case=use_case, by=request.user)
    except lifecycle.TransitionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Review started.")
    return redirect("reviews:review", pk=use_case.pk)


@login_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_for(request.user, pk)
    if not services.may_decide(request.user):
        raise PermissionDenied("Only the architecture board decides.")
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            decision = services.decide_use_case(
                use_case=use_case, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except lifecycle.TransitionError as exc:
            messages.error(request, str(exc))
            return redirect("reviews:review", pk=use_case.pk)
        else:
            messages.success(
                request, f"Decision recorded: {decision.outcome_label.lower()}."
            )
            return redirect("reviews:review", pk=use_case.pk)
    return render(
        request,
        "reviews/review_detail.html",
        _review_context(request, use_case, form=form),
        status=400,
    )


@login_required
@require_http_methods(["GET", "POST"])
def thread(request: HttpRequest, pk: int) -> HttpResponse:
    """The comment thread and decisions (a panel on the use-case page); POST adds."""
    use_case = get_use_case_for(request.user, pk)
    context = _thread_context(request, use_case)
    if request.method == "POST":
        form = CommentForm(request.POST)
        if form.is_valid():
            try:
                services.add_comment(
                    use_case=use_case, by=request.user, **form.cleaned_data
                )
            except services.CommentForbidden as exc:
                raise PermissionDenied(str(exc)) from exc
            if not request.htmx:
                messages.success(request, "Comment added.")
                if request.user.has_role(*QUEUE_READERS):
                    return redirect("reviews:review", pk=use_case.pk)
                return redirect(use_case)
        else:
            context["comment_form"] = form
    return render(
        request, _fragment(request, "reviews/review_thread.html", "thread"), context
    )


@login_required
@require_GET
def timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The read-only audit trail (a panel on the use-case page)."""
    use_case = get_use_case_for(request.user, pk)
    return render(
        request,
        _fragment(request, "reviews/review_timeline.html", "timeline"),
        {
            "use_case": use_case,
            "timeline": build_timeline(use_case=use_case, user=request.user),
        },
    )

from __future__ import annotations

from functools import cached_property, partial
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.forms import BaseForm
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
)

from apps.usecases import lifecycle
from apps.usecases.access import get_use_case_for
from apps.usecases.models import TaskType, UseCase

from . import assessments, periodic, services
from .filters import QUEUE_STATUSES, SORTS, QueueFilter
from .forms import CommentForm, DecisionForm, RoutesForm
from .models import (
    Comment,
    Condition,
    Decision,
    ReviewAssignment,
    approval_among,
    current_approval,
)
from .routing import TargetEndpoint, describe_target, route_support
from .timeline import build_timeline

if TYPE_CHECKING:
    from apps.accounts.models import User

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
        .select_related("owner", "team", "review_assignment__reviewer")
        .prefetch_related("workloads")
        .order_by("submitted_at", "pk")
    )
    params = _without_blanks(request.GET)
    filterset = QueueFilter(params, queryset=queryset, request=request)
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
            "overdue_conditions": list(
                Condition.objects.overdue()
                .filter(use_case__in=visible)
                .for_list()
                .order_by("due_date", "pk")[:50]
            ),
            "reviews_due": periodic.reviews_due(use_cases=visible),
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
        "decisions": list(
            Decision.objects.filter(use_case=use_case).select_related("decided_by")
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
    request: HttpRequest,
    use_case: UseCase,
    form: DecisionForm | None = None,
    routes_form: RoutesForm | None = None,
    amend_form: RoutesForm | None = None,
    editing: _RouteEditing | None = None,
) -> dict:
    user = request.user
    thread = _thread_context(request, use_case)
    if editing is None:
        editing = _RouteEditing(use_case, review=assessments.for_review(use_case))
    editing.decisions = thread["decisions"]
    review = editing.review
    may_decide = services.may_decide(user) and use_case.status in QUEUE_STATUSES
    if form is None and may_decide:
        recommended = review.recommendation if review else ""
        form = DecisionForm(initial={"pattern": recommended})
    if routes_form is None and may_decide:
        routes_form = editing.form()
    panel = editing.panel(user, amend_form=amend_form)
    if may_decide and routes_form is not None:
        panel["must_stay"] = editing.must_stay
    return {
        **thread,
        **panel,
        "workloads": list(use_case.workloads.all()),
        "review": review,
        "evidence": _evidence(use_case),
        "timeline": build_timeline(use_case=use_case, user=user),
        "decision_form": form if may_decide else None,
        "routes_form": routes_form if may_decide else None,
        "may_start": lifecycle.actor_may(use_case, UseCase.Status.IN_REVIEW, user),
        "assignment": ReviewAssignment.objects.filter(use_case=use_case)
        .select_related("reviewer")
        .first(),
        "board_members": _board_members() if may_decide else None,
        "catalogue_models": assessments.catalogue_model_names(),
    }


class _RouteEditing:
    """What the routes editor and the routes panel need, each read once a request."""

    def __init__(
        self,
        use_case: UseCase,
        *,
        review: assessments.ReviewAssessment | None,
        decisions: list[Decision] | None = None,
    ) -> None:
        self.use_case = use_case
        self.review = review
        self.decisions = decisions
        self.support = route_support()

    @cached_property
    def approval(self) -> Decision | None:
        if self.decisions is None:
            return current_approval(self.use_case)
        return approval_among(self.decisions, self.use_case)

    @cached_property
    def endpoints(self) -> list[TargetEndpoint]:
        return self.support.endpoints() if self.support else []

    @cached_property
    def must_stay(self) -> bool:
        return bool(self.support and self.support.must_stay_in_house(self.use_case))

    @cached_property
    def workloads(self) -> list[tuple[str, str]]:
        labels = dict(TaskType.choices)
        seen: dict[str, str] = {}
        for task in self.use_case.workloads.values_list("task_type", flat=True):
            seen.setdefault(task, str(labels.get(task, task)))
        return list(seen.items())

    def rules(self) -> dict[str, str]:
        """The latest assessment's routing rule per workload, as hints."""
        if self.review is None:
            return {}
        return {
            str(w.get("task_type")): str(w.get("routing_rule", ""))
            for w in self.review.latest.result.get("workloads") or []
            if isinstance(w, dict)
        }

    def form(
        self, data: QueryDict | None = None, *, amending: bool = False
    ) -> RoutesForm | None:
        """The editor, starting from the routes in force (amending) or from the
        latest assessment's routing rule per workload (deciding)."""
        if self.support is None:
            return None
        initial = list(self.approval.routes) if amending and self.approval else []
        if not initial:
            initial = self.support.prefill(
                workloads=[task for task, _label in self.workloads],
                assessment=self.review.latest.result if self.review else None,
                endpoints=self.endpoints,
                must_stay=self.must_stay,
            )
        complete = bool(initial) and all(
            any(t.get("model") for t in r.get("targets", [])) for r in initial
        )
        return RoutesForm(
            data,
            workloads=self.workloads,
            endpoints=self.endpoints,
            initial_routes=initial,
            rules=self.rules(),
            optional=not amending,
            give=complete,
            add_row=data.get("add_row", "") if data is not None else "",
        )

    def panel(self, user: User, *, amend_form: RoutesForm | None = None) -> dict:
        """The routes in force, and for the board the form that amends them."""
        approval = self.approval
        routes = list(approval.routes) if approval else []
        endpoints = {e.id: e for e in self.endpoints} if routes else {}
        labels = dict(TaskType.choices)
        may_amend = approval is not None and services.may_decide(user)
        if amend_form is None and may_amend:
            amend_form = self.form(amending=True)
        return {
            "approval": approval,
            "current_routes": [
                {
                    "workload": str(labels.get(r["workload"], r["workload"])),
                    "targets": [describe_target(t, endpoints) for t in r["targets"]],
                    "fallback": [describe_target(t, endpoints) for t in r["fallback"]],
                }
                for r in routes
            ],
            "amend_form": amend_form if may_amend else None,
            "must_stay": may_amend and self.must_stay,
        }


def _without_errors(*forms: BaseForm | None) -> None:
    """Show a form re-rendered for "add a row" without validating it: its errors
    count as computed, and none."""
    for form in forms:
        if form is not None:
            form._errors = ErrorDict()


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
def assign(request: HttpRequest, pk: int) -> HttpResponse:
    """The board assigns one of its members (often the one asking) as reviewer."""
    use_case = get_use_case_for(request.user, pk)
    if not services.may_decide(request.user):
        raise PermissionDenied("Only the architecture board assigns reviewers.")
    reviewer = _board_members().filter(pk=request.POST.get("reviewer") or 0).first()
    if reviewer is None:
        messages.error(request, "Choose a member of the board; nothing was changed.")
    else:
        services.assign_reviewer(use_case=use_case, reviewer=reviewer, by=request.user)
        who = reviewer.get_full_name() or reviewer.username
        messages.success(request, f"{who} reviews this use-case.")
    return redirect("reviews:review", pk=use_case.pk)


def _board_members():  # type: ignore[no-untyped-def]
    from apps.accounts.models import User
    from apps.accounts.roles import Role

    return User.objects.filter(is_active=True, groups__name=Role.BOARD).order_by(
        "first_name", "username"
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
    editing = _RouteEditing(use_case, review=assessments.for_review(use_case))
    routes_form = editing.form(request.POST)
    context = partial(
        _review_context,
        request,
        use_case,
        form=form,
        routes_form=routes_form,
        editing=editing,
    )
    if "add_row" in request.POST:
        _without_errors(form, routes_form)
        return render(request, "reviews/review_detail.html", context())
    approving = (
        form.is_valid() and form.cleaned_data["outcome"] == Decision.Outcome.APPROVED
    )
    # Routes go with an approval only: other outcomes ignore the routes editor.
    routes_valid = routes_form is None or not approving or routes_form.is_valid()
    if form.is_valid() and routes_valid:
        routes = routes_form.routes if routes_form and approving else None
        # The page's form asks first (step=check): the board sees what would be
        # recorded and confirms; a client posting without a step records at once.
        checking = request.POST.get("step") == "check"
        try:
            if checking:
                preview = services.preview_decision(
                    use_case=use_case,
                    by=request.user,
                    routes=routes,
                    **form.cleaned_data,
                )
                return render(
                    request,
                    "reviews/review_detail.html",
                    context()
                    | {
                        "preview": preview,
                        "preview_fields": [
                            (key, value)
                            for key, values in request.POST.lists()
                            if key not in {"csrfmiddlewaretoken", "step"}
                            for value in values
                        ],
                    },
                )
            decision = services.decide_use_case(
                use_case=use_case, by=request.user, routes=routes, **form.cleaned_data
            )
        except ValidationError as exc:
            _split_errors(exc, form, routes_form)
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
        context() | {"error_summary": _error_summary(form, routes_form)},
        status=400,
    )


def _error_summary(
    form: DecisionForm, routes_form: RoutesForm | None
) -> list[tuple[str, str]]:
    """(where, message) for each error of the decision, for the summary at the top;
    `where` is the anchor of the field it is about."""
    found: list[tuple[str, str]] = []
    for name, messages_ in form.errors.items():
        anchor = f"#{form[name].id_for_label}" if name in form.fields else "#decision"
        label = form[name].label if name in form.fields else ""
        found += [(anchor, f"{label}: {m}" if label else m) for m in messages_]
    if routes_form is not None and routes_form.is_bound and routes_form.errors:
        for message in routes_form.general_errors:
            found.append(("#decision-routes", f"Routes: {message}"))
        for rows in routes_form.editor():
            anchor = f"#route-{rows.workload}"
            found += [(anchor, f"Routes, {rows.label}: {m}") for m in rows.errors]
        if any(name != "__all__" for name in routes_form.errors):
            found.append(("#decision-routes", "Routes: a row needs attention."))
    return found


def _split_errors(
    exc: ValidationError, form: BaseForm, routes_form: RoutesForm | None
) -> None:
    errors = dict(exc.message_dict)
    route_messages = errors.pop("routes", [])
    if route_messages and routes_form is not None:
        routes_form.add_route_errors(route_messages)
    elif route_messages:
        errors["__all__"] = [*errors.get("__all__", []), *route_messages]
    for name, field_errors in errors.items():
        form.add_error(name if name in form.fields else None, field_errors)


@login_required
@require_http_methods(["GET", "POST"])
def routes(request: HttpRequest, pk: int) -> HttpResponse:
    """The routes in force (a panel on the use-case page); the board amends
    them with POST, recorded as a new decision without a move."""
    use_case = get_use_case_for(request.user, pk)
    if request.method == "GET":
        editing = _RouteEditing(use_case, review=None)
        if services.may_decide(request.user):
            editing.review = assessments.for_review(use_case)
        return render(
            request,
            _fragment(request, "reviews/review_routes.html", "routes"),
            {"use_case": use_case, **editing.panel(request.user)},
        )
    if not services.may_decide(request.user):
        raise PermissionDenied("Only the architecture board amends routes.")
    editing = _RouteEditing(use_case, review=assessments.for_review(use_case))
    form = editing.form(request.POST, amending=True)
    if form is None:
        messages.error(request, "The gateway is not installed: there are no routes.")
        return redirect("reviews:review", pk=use_case.pk)
    context = partial(
        _review_context, request, use_case, amend_form=form, editing=editing
    )
    if "add_row" in request.POST:
        _without_errors(form)
        return render(request, "reviews/review_detail.html", context())
    if form.is_valid():
        try:
            services.amend_routes(
                use_case=use_case,
                by=request.user,
                routes=form.routes,
                comment=request.POST.get("comment", ""),
            )
        except ValidationError as exc:
            form.add_route_errors(exc.message_dict.get("routes", exc.messages))
        except lifecycle.TransitionError as exc:
            messages.error(request, str(exc))
            return redirect("reviews:review", pk=use_case.pk)
        else:
            messages.success(request, "Routes amended.")
            return redirect("reviews:review", pk=use_case.pk)
    return render(request, "reviews/review_detail.html", context(), status=400)


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

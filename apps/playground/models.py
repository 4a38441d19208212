"""Playground runs (one prompt, up to four models) and test sets (inputs with checks)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.text import Truncator

from apps.endpoints.models import ServingEndpoint
from apps.usecases.models import DataClassification, UseCase

from .checks import CheckKind
from .rendering import render_markdown

if TYPE_CHECKING:
    from django.utils.safestring import SafeString

    from apps.accounts.models import User

#: Most columns a run compares side by side.
MAX_COLUMNS = 4
USE_PERMISSION = "playground.add_playgroundrun"


def may_use_playground(user: User) -> bool:
    """Whether ``user`` may send prompts (the roles granted the permission).

    Read from the roles (one cached query) rather than ``has_perm`` (two), as it
    sits on the path to the first token; ROLE_PERMISSIONS stays the one source.
    """
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.has_role(*_playground_roles())


def _playground_roles() -> tuple[str, ...]:
    from apps.accounts.roles import ROLE_PERMISSIONS

    return tuple(
        str(role) for role, perms in ROLE_PERMISSIONS.items() if USE_PERMISSION in perms
    )


class PlaygroundRunQuerySet(models.QuerySet["PlaygroundRun"]):
    def visible_to(self, user: User) -> PlaygroundRunQuerySet:
        """Runs the user may read.

        Board, platform, procurement and auditors read every run; a requester reads
        their own and those attached as evidence to their own or their team's
        use-cases (a prompt may hold more than the use-case list shows).
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.reads_everything:
            return self
        rule = Q(owner=user) | Q(use_case__owner=user)
        if user.team_id:
            rule |= Q(use_case__team_id=user.team_id)
        return self.filter(rule)

    def for_list(self) -> PlaygroundRunQuerySet:
        return self.select_related(
            "owner", "use_case", "profile_use_case"
        ).prefetch_related("outputs")


class PlaygroundRun(models.Model):
    """One prompt sent to up to four models at once, with what each answered.

    The data profile is what the user declared (or the profile of
    ``profile_use_case``); it decided which endpoints the prompt could go to.
    ``use_case`` is set when the run is attached to a use-case as evidence.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    system_prompt = models.TextField(blank=True)
    prompt = models.TextField()
    temperature = models.FloatField(
        default=0.7, validators=[MinValueValidator(0), MaxValueValidator(2)]
    )
    max_tokens = models.PositiveIntegerField(
        default=512, validators=[MinValueValidator(1), MaxValueValidator(32_768)]
    )

    data_classification = models.CharField(
        max_length=20, choices=DataClassification.choices
    )
    special_categories = models.JSONField(default=list, blank=True)
    must_stay_in_infrastructure = models.BooleanField(default=False)
    may_leave_infrastructure = models.BooleanField(
        help_text="What the guard decided for this run's data."
    )
    profile_use_case = models.ForeignKey(
        UseCase,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The use-case whose data profile the run used.",
    )

    use_case = models.ForeignKey(
        UseCase,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="playground_runs",
        help_text="The use-case this run is evidence for.",
    )
    attached_at = models.DateTimeField(null=True, blank=True)
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    stopped = models.BooleanField(
        default=False, help_text="The user stopped the run before every answer ended."
    )

    objects = PlaygroundRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        models_ = ", ".join(o.label for o in self.outputs.all())
        prompt = Truncator(self.prompt).chars(60)
        return f"“{prompt}” on {models_}" if models_ else f"“{prompt}”"

    def get_absolute_url(self) -> str:
        return reverse("playground:run_detail", args=[self.pk])

    def data_label(self) -> str:
        """The data profile in words, as the guard read it."""
        label = self.get_data_classification_display()
        extras = list(self.special_categories or [])
        if self.must_stay_in_infrastructure:
            extras.append("must stay in-house")
        text = f"{label}" + (f" ({', '.join(extras)})" if extras else "")
        if self.profile_use_case_id:
            text += f", from use-case “{self.profile_use_case}”"
        return text

    def can_attach(self, user: User) -> bool:
        return user.is_superuser or self.owner_id == user.pk


class RunOutput(models.Model):
    """One model's answer to a run, with its timings, tokens, cost or error."""

    class Status(models.TextChoices):
        DONE = "done", "Done"
        ERROR = "error", "Error"
        STOPPED = "stopped", "Stopped"

    class CostBasis(models.TextChoices):
        PER_TOKEN = "per_token", "Per token"
        HOURLY = "hourly", "Self-hosted (hourly)"
        UNKNOWN = "unknown", "Unknown"

    run = models.ForeignKey(
        PlaygroundRun, on_delete=models.CASCADE, related_name="outputs"
    )
    position = models.PositiveSmallIntegerField()
    endpoint = models.ForeignKey(
        ServingEndpoint,
        null=True,
        on_delete=models.SET_NULL,
        related_name="playground_outputs",
    )
    # Copied, so a run still reads right after the endpoint is renamed or removed.
    endpoint_name = models.CharField(max_length=120)
    location = models.CharField(max_length=10, choices=ServingEndpoint.Location.choices)
    model = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    text = models.TextField(blank=True)
    error = models.TextField(blank=True)
    ttft_ms = models.FloatField(null=True, blank=True)
    total_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True
    )
    cost_basis = models.CharField(
        max_length=10, choices=CostBasis.choices, default=CostBasis.UNKNOWN
    )

    class Meta:
        ordering = ["run_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "position"], name="playground_output_once_per_column"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.status}"

    @property
    def label(self) -> str:
        return (
            f"{self.endpoint_name} · {self.model}" if self.model else self.endpoint_name
        )

    @cached_property
    def html(self) -> SafeString:
        """The answer as sanitised HTML (Markdown rendered, no markup from the model)."""
        return render_markdown(self.text)

    @property
    def tokens_per_second(self) -> float | None:
        return tokens_per_second(
            output_tokens=self.output_tokens,
            ttft_ms=self.ttft_ms,
            total_ms=self.total_ms,
        )


def tokens_per_second(
    *, output_tokens: int | None, ttft_ms: float | None, total_ms: float | None
) -> float | None:
    """Output tokens over the generation time (after the first token).

    Falls back to the total time when the answer came in one piece.
    """
    if not output_tokens or total_ms is None:
        return None
    seconds = (total_ms - (ttft_ms or 0)) / 1000
    if seconds <= 0.001:
        seconds = total_ms / 1000
    if seconds <= 0:
        return None
    return output_tokens / seconds


class TestSetQuerySet(models.QuerySet["TestSet"]):
    def visible_to(self, user: User) -> TestSetQuerySet:
        """Test sets the user may read, by the rule of playground runs.

        Board, platform, procurement and auditors read every test set; a requester
        those of their own and their team's use-cases, not of every use-case they
        can see (a system prompt and sample inputs may hold more than the list).
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.reads_everything:
            return self
        rule = Q(use_case__owner=user)
        if user.team_id:
            rule |= Q(use_case__team_id=user.team_id)
        return self.filter(rule)


class TestSet(models.Model):
    """Sample inputs of a use-case with checks, run against candidate models."""

    __test__ = False  # not a pytest class

    use_case = models.ForeignKey(
        UseCase, on_delete=models.CASCADE, related_name="test_sets"
    )
    name = models.CharField(max_length=200)
    system_prompt = models.TextField(blank=True)
    temperature = models.FloatField(
        default=0.0, validators=[MinValueValidator(0), MaxValueValidator(2)]
    )
    max_tokens = models.PositiveIntegerField(
        default=256, validators=[MinValueValidator(1), MaxValueValidator(32_768)]
    )
    # Where the LLM judge of `judge` checks runs: an endpoint the use-case's data
    # may go to (apps.playground.judge).
    judge_endpoint = models.ForeignKey(
        ServingEndpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    judge_model = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TestSetQuerySet.as_manager()

    class Meta:
        ordering = ["use_case_id", "name", "pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("playground:test_set_detail", args=[self.pk])

    def can_manage(self, user: User) -> bool:
        return can_manage_test_sets(user, self.use_case)


def can_manage_test_sets(user: User, use_case: UseCase) -> bool:
    """Who edits and runs a use-case's test sets (given they can see it).

    Roles holding the permission (requester, board, platform): the board and
    platform for any use-case, a requester for their own or their team's.
    Procurement and auditors only read.
    """
    if not user.has_perm("playground.change_testset"):
        return False
    if user.is_superuser or user.reads_everything:
        return True
    return use_case.owner_id == user.pk or (
        user.team_id is not None and use_case.team_id == user.team_id
    )


class TestInput(models.Model):
    """One sample input and the check its answer must pass."""

    __test__ = False

    test_set = models.ForeignKey(
        TestSet, on_delete=models.CASCADE, related_name="inputs"
    )
    prompt = models.TextField()
    check_kind = models.CharField(max_length=10, choices=CheckKind.choices)
    expected = models.TextField(
        blank=True, help_text="Text, pattern or exact answer; unused for valid JSON."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["test_set_id", "pk"]

    def __str__(self) -> str:
        return Truncator(self.prompt).chars(60)


class TestSetRun(models.Model):
    """A test set run against candidate models in the background, with progress."""

    __test__ = False

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    test_set = models.ForeignKey(TestSet, on_delete=models.CASCADE, related_name="runs")
    # [{"endpoint": id, "model": name}, ...] in column order.
    targets = models.JSONField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    total = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.test_set} · {self.created_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("playground:test_set_run_detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.is_finished else 0
        return min(100, round(100 * self.completed / self.total))

    def summary(self) -> list[ModelSummary]:
        """Per candidate: pass rate, median latency and cost per 1,000 requests."""
        results = list(self.results.all())
        rows = []
        for position, target in enumerate(self.targets):
            mine = [r for r in results if r.position == position]
            rows.append(ModelSummary.of(target=target, results=mine))
        return rows


@dataclass(frozen=True)
class ModelSummary:
    """One candidate's scores over a test set run."""

    endpoint_name: str
    model: str
    location: str
    count: int
    passed: int
    errors: int
    median_latency_ms: float | None
    cost_per_1000: Decimal | None
    self_hosted: bool

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.count if self.count else None

    @classmethod
    def of(cls, *, target: dict, results: list[TestResult]) -> ModelSummary:
        latencies = [
            r.latency_ms for r in results if r.latency_ms is not None and not r.error
        ]
        costs = [r.cost_usd for r in results if r.cost_usd is not None]
        answered = [r for r in results if not r.error]
        cost_per_1000 = None
        if costs and len(costs) == len(answered):
            cost_per_1000 = (sum(costs, Decimal(0)) / len(costs) * 1000).quantize(
                Decimal("0.0001")
            )
        return cls(
            endpoint_name=target.get("endpoint_name", ""),
            model=target.get("model", ""),
            location=target.get("location", ""),
            count=len(results),
            passed=sum(1 for r in results if r.passed),
            errors=sum(1 for r in results if r.error),
            median_latency_ms=statistics.median(latencies) if latencies else None,
            cost_per_1000=cost_per_1000,
            self_hosted=bool(target.get("self_hosted")),
        )


class TestResult(models.Model):
    """One input's answer from one candidate, scored by the input's check."""

    __test__ = False

    run = models.ForeignKey(
        TestSetRun, on_delete=models.CASCADE, related_name="results"
    )
    test_input = models.ForeignKey(
        TestInput, on_delete=models.CASCADE, related_name="results"
    )
    position = models.PositiveSmallIntegerField(help_text="Which target of the run.")
    passed = models.BooleanField(default=False)
    output = models.TextField(blank=True)
    error = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True
    )
    # The LLM judge's verdict and what calling it cost (judge checks only).
    judge_verdict = models.TextField(blank=True)
    judge_cost_usd = models.DecimalField(
        max_digits=14, decimal_places=8, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "test_input_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "test_input", "position"],
                name="playground_result_once_per_input_and_target",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.test_input_id}@{self.position}: {'pass' if self.passed else 'fail'}"
        )

"""Playground operations: prepare (guard), stream or run, save, attach; test sets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.core.crypto import DecryptionError
from apps.endpoints.models import ServingEndpoint
from apps.endpoints.pricing import PriceBook
from apps.endpoints.services import record_portal_usage
from apps.usecases.models import AuditEvent, UseCase

from . import snapshot
from .access import AttachForbidden, may_attach_evidence
from .checks import passes
from .clients import ChatRequest, Connection
from .guard import DataDeclaration, GuardRefused, check_targets
from .models import (
    MAX_COLUMNS,
    PlaygroundRun,
    RunOutput,
    TestInput,
    TestResult,
    TestSet,
    TestSetRun,
)
from .runner import ColumnResult, Target, run_columns

if TYPE_CHECKING:
    from apps.accounts.models import User

TargetKey = tuple[int, str]  # (endpoint id, served model name)


class UnknownTarget(ValueError):
    """A target that is not a chat-capable endpoint's served model."""


@dataclass(frozen=True)
class RunParams:
    """What the user asks: the prompt, its parameters, where to and about what data."""

    prompt: str
    targets: Sequence[TargetKey]
    declaration: DataDeclaration
    system_prompt: str = ""
    temperature: float = 0.7
    max_tokens: int = 512

    def chat_request(self) -> ChatRequest:
        return ChatRequest(
            model="",
            prompt=self.prompt,
            system_prompt=self.system_prompt,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
        )


@dataclass
class PreparedRun:
    """A run the guard let through, with its columns ready to call."""

    user: User
    params: RunParams
    targets: list[Target]
    results: list[ColumnResult] = field(default_factory=list)
    #: The saved run and its answers, once :func:`save_run` has stored them.
    run: PlaygroundRun | None = None
    outputs: list[RunOutput] = field(default_factory=list)


# Endpoints and targets.


def playground_endpoints() -> QuerySet[ServingEndpoint]:
    """Endpoints the playground offers: chat-capable, in-house first."""
    # "in_house" sorts after "external", so descending puts in-house first.
    return ServingEndpoint.objects.filter(chat_capable=True).order_by(
        "-location", "name"
    )


def parse_target(value: str) -> TargetKey:
    """``"<endpoint id>:<model>"`` (model names may hold colons) → (id, model)."""
    endpoint, _, model = value.partition(":")
    try:
        return int(endpoint), model
    except ValueError:
        raise UnknownTarget(f"Not a model to call: {value!r}.") from None


def target_value(endpoint_id: int, model: str) -> str:
    return f"{endpoint_id}:{model}"


def resolve_targets(keys: Sequence[TargetKey]) -> list[tuple[ServingEndpoint, str]]:
    """The endpoints of ``keys``, in order; :class:`UnknownTarget` for any other."""
    if not 1 <= len(keys) <= MAX_COLUMNS:
        raise UnknownTarget(f"Choose between one and {MAX_COLUMNS} models.")
    endpoints = playground_endpoints().in_bulk([pk for pk, _ in keys])
    resolved = []
    for pk, model in keys:
        endpoint = endpoints.get(pk)
        if endpoint is None:
            raise UnknownTarget("That endpoint does not exist or cannot chat.")
        served = endpoint.served_models or []
        if served and model not in served:
            raise UnknownTarget(f"{endpoint.name} does not serve {model!r}.")
        if not model:
            raise UnknownTarget(f"Choose a model of {endpoint.name}.")
        resolved.append((endpoint, model))
    return resolved


def build_targets(resolved: Iterable[tuple[ServingEndpoint, str]]) -> list[Target]:
    """Columns to call: keys decrypted here, just before the calls."""
    targets = []
    books: dict[int, PriceBook] = {}
    for position, (endpoint, model) in enumerate(resolved):
        connection, problem = None, ""
        try:
            connection = Connection(
                kind=endpoint.kind,
                base_url=endpoint.base_url,
                api_key=endpoint.decrypt_api_key(),
            )
        except DecryptionError:
            problem = "The endpoint's stored key cannot be decrypted; ask platform."
        price = None
        if not endpoint.is_self_hosted:
            book = books.setdefault(endpoint.pk, PriceBook(endpoint))
            price = book.price(model)
        targets.append(
            Target(
                position=position,
                endpoint_id=endpoint.pk,
                endpoint_name=endpoint.name,
                kind=endpoint.kind,
                location=endpoint.location,
                model=model,
                connection=connection,
                connection_error=problem,
                input_usd_per_mtok=price.input_usd_per_mtok if price else None,
                output_usd_per_mtok=price.output_usd_per_mtok if price else None,
                self_hosted=endpoint.is_self_hosted,
            )
        )
    return targets


# Runs.


def cached_targets(keys: Sequence[TargetKey]) -> list[Target]:
    """:func:`resolve_targets` then :func:`build_targets`, from this process's
    cache of endpoints (no query once each endpoint was read): the path to the
    first token."""
    if not 1 <= len(keys) <= MAX_COLUMNS:
        raise UnknownTarget(f"Choose between one and {MAX_COLUMNS} models.")
    configs = snapshot.endpoint_configs(list(dict.fromkeys(pk for pk, _ in keys)))
    targets = []
    for position, (pk, model) in enumerate(keys):
        config = configs.get(pk)
        if config is None:
            raise UnknownTarget("That endpoint does not exist or cannot chat.")
        if config.served_models and model not in config.served_models:
            raise UnknownTarget(f"{config.name} does not serve {model!r}.")
        if not model:
            raise UnknownTarget(f"Choose a model of {config.name}.")
        input_price, output_price = config.price(model)
        targets.append(
            Target(
                position=position,
                endpoint_id=config.id,
                endpoint_name=config.name,
                kind=config.kind,
                location=config.location,
                model=model,
                connection=config.connection,
                connection_error=config.connection_error,
                input_usd_per_mtok=input_price,
                output_usd_per_mtok=output_price,
                self_hosted=config.self_hosted,
            )
        )
    return targets


def prepare_run(*, user: User, params: RunParams, via: str) -> PreparedRun:
    """Check the targets and the guard; raise UnknownTarget or GuardRefused (audited)."""
    targets = cached_targets(params.targets)
    check_targets(
        declaration=params.declaration,
        targets=[(t.endpoint_name, t.location) for t in targets],
        user=user,
        via=via,
    )
    return PreparedRun(
        user=user,
        params=params,
        targets=targets,
        results=[ColumnResult(t.position) for t in targets],
    )


def save_run(
    *, prepared: PreparedRun, stopped: bool = False, record_usage: bool = True
) -> PlaygroundRun:
    """Store the run and each column's answer, metrics and error.

    ``record_usage=False`` leaves the usage to :func:`record_prepared_usage`.
    """
    params = prepared.params
    declaration = params.declaration
    # Read outside the transaction, so the policy comes from the process cache.
    may_leave = declaration.may_leave()
    with transaction.atomic():
        run = PlaygroundRun.objects.create(
            owner=prepared.user,
            system_prompt=params.system_prompt,
            prompt=params.prompt,
            temperature=params.temperature,
            max_tokens=params.max_tokens,
            data_classification=declaration.classification,
            special_categories=list(declaration.special_categories),
            must_stay_in_infrastructure=declaration.must_stay_in_infrastructure,
            # Recorded after the answers, off the path to the first token.
            may_leave_infrastructure=may_leave,
            profile_use_case=declaration.use_case,
            stopped=stopped,
        )
        outputs = []
        for target, result in zip(prepared.targets, prepared.results, strict=True):
            cost, basis = target.cost(
                input_tokens=result.input_tokens, output_tokens=result.output_tokens
            )
            outputs.append(
                RunOutput(
                    run=run,
                    position=target.position,
                    endpoint_id=target.endpoint_id,
                    endpoint_name=target.endpoint_name,
                    location=target.location,
                    model=target.model,
                    status=result.status or RunOutput.Status.STOPPED,
                    text=result.text,
                    error=result.error,
                    ttft_ms=result.ttft_ms,
                    total_ms=result.total_ms,
                    input_tokens=result.input_tokens,
                    output_tokens=result.output_tokens,
                    cost_usd=cost,
                    cost_basis=basis,
                )
            )
        RunOutput.objects.bulk_create(outputs)
    prepared.run, prepared.outputs = run, outputs
    if record_usage:
        record_prepared_usage(prepared=prepared)
    return run


def record_prepared_usage(*, prepared: PreparedRun) -> None:
    """Record the answers of a just saved run as usage: no database, one spool
    append per answer (the streaming view calls it once the stream has closed)."""
    run = prepared.run
    assert run is not None
    kinds = {t.position: t.kind for t in prepared.targets}
    _record_outputs(run, prepared.outputs, kinds)


def record_run_usage(*, run: PlaygroundRun) -> None:
    """Record each answered column of ``run`` as usage of its endpoint again.

    Keyed by the output's id, so calling this again counts nothing twice and
    only refreshes the attribution (after the run was attached to a use-case).
    """
    outputs = list(
        run.outputs.filter(
            status=RunOutput.Status.DONE, endpoint__isnull=False
        ).select_related("endpoint")
    )
    kinds = {o.position: o.endpoint.kind for o in outputs if o.endpoint}
    _record_outputs(run, outputs, kinds)


def _record_outputs(
    run: PlaygroundRun, outputs: list[RunOutput], kinds: dict[int, str]
) -> None:
    """Attributed to the run's attached use-case, else the one whose profile it
    used. Only endpoints no collector counts get usage (see
    :func:`apps.endpoints.services.record_portal_usage`)."""
    use_case_id = run.use_case_id or run.profile_use_case_id
    for output in outputs:
        if output.status != RunOutput.Status.DONE or output.endpoint_id is None:
            continue
        record_portal_usage(
            endpoint_id=output.endpoint_id,
            kind=kinds[output.position],
            key=f"run-output={output.pk}",
            model=output.model,
            use_case_id=use_case_id,
            at=run.created_at,
            input_tokens=output.input_tokens,
            output_tokens=output.output_tokens,
        )


def execute_run(*, user: User, params: RunParams, via: str = "api") -> PlaygroundRun:
    """Prepare, call every model to the end (no streaming) and save the run."""
    prepared = prepare_run(user=user, params=params, via=via)
    results = async_to_sync(run_columns)(
        targets=prepared.targets, request=params.chat_request()
    )
    prepared.results[:] = results
    return save_run(prepared=prepared)


def attach_run(*, run: PlaygroundRun, use_case: UseCase, by: User) -> PlaygroundRun:
    """Attach ``run`` to ``use_case`` as evidence the board sees.

    Raises `access.AttachForbidden` unless ``by`` owns the run and may edit or
    review the use-case (`access.may_attach_evidence`): seeing it is not enough.
    """
    if not run.can_attach(by):
        raise AttachForbidden("Only the run's owner attaches it.")
    if not may_attach_evidence(by, use_case):
        raise AttachForbidden(
            "Only the use-case's owner or the board attaches evidence to it."
        )
    with transaction.atomic():
        run.use_case = use_case
        run.attached_at = timezone.now()
        run.attached_by = by
        run.save(update_fields=["use_case", "attached_at", "attached_by"])
        AuditEvent.record(
            kind="playground.attached",
            summary=f"Playground run #{run.pk} attached as evidence",
            actor=by,
            use_case=use_case,
            data={"run": run.pk},
        )
    record_run_usage(run=run)  # its usage now belongs to that use-case
    return run


# Test sets.


def create_test_set(
    *,
    use_case: UseCase,
    name: str,
    by: User,
    system_prompt: str = "",
    temperature: float = 0.0,
    max_tokens: int = 256,
) -> TestSet:
    return TestSet.objects.create(
        use_case=use_case,
        name=name,
        system_prompt=system_prompt,
        temperature=temperature,
        max_tokens=max_tokens,
        created_by=by,
    )


def start_test_set_run(
    *, test_set: TestSet, targets: Sequence[TargetKey], by: User
) -> TestSetRun:
    """Queue a run of every input on every target, guarded by the use-case's data."""
    resolved = resolve_targets(targets)
    check_targets(
        declaration=DataDeclaration.of_use_case(test_set.use_case),
        targets=[(endpoint.name, endpoint.location) for endpoint, _ in resolved],
        user=by,
        via="test_set",
    )
    inputs = test_set.inputs.count()
    if not inputs:
        raise UnknownTarget("Add an input to the test set first.")
    described = [
        {
            "position": position,
            "endpoint": endpoint.pk,
            "endpoint_name": endpoint.name,
            "location": endpoint.location,
            "model": model,
            "self_hosted": endpoint.is_self_hosted,
        }
        for position, (endpoint, model) in enumerate(resolved)
    ]
    from .tasks import run_test_set

    with transaction.atomic():
        run = TestSetRun.objects.create(
            test_set=test_set,
            targets=described,
            total=inputs * len(described),
            started_by=by,
        )
        run_test_set.delay_on_commit(run.pk)
    return run


def execute_test_set_run(*, run_id: int) -> TestSetRun | None:
    """Run what is left of a test set run; safe to call twice (results are unique).

    Each input goes to every target at once; progress is stored after each input.
    """
    claimed = TestSetRun.objects.filter(
        pk=run_id, status__in=[TestSetRun.Status.QUEUED, TestSetRun.Status.RUNNING]
    ).update(status=TestSetRun.Status.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    run = TestSetRun.objects.select_related("test_set__use_case", "started_by").get(
        pk=run_id
    )
    test_set = run.test_set
    keys = [(t["endpoint"], t["model"]) for t in run.targets]
    try:
        resolved = resolve_targets(keys)
        # The policy or the use-case may have changed since the run was queued.
        check_targets(
            declaration=DataDeclaration.of_use_case(test_set.use_case),
            targets=[(endpoint.name, endpoint.location) for endpoint, _ in resolved],
            user=run.started_by,
            via="test_set",
        )
    except (UnknownTarget, GuardRefused) as exc:
        message = getattr(exc, "message", None) or str(exc)
        _finish(run, status=TestSetRun.Status.FAILED, error=message)
        return run
    targets = build_targets(resolved)
    done = set(run.results.values_list("test_input_id", "position"))
    for test_input in test_set.inputs.all():
        todo = [t for t in targets if (test_input.pk, t.position) not in done]
        if not todo:
            continue
        request = ChatRequest(
            model="",
            prompt=test_input.prompt,
            system_prompt=test_set.system_prompt,
            temperature=test_set.temperature,
            max_tokens=test_set.max_tokens,
        )
        results = async_to_sync(run_columns)(targets=todo, request=request)
        _store_results(run, test_input, todo, results)
    _finish(run, status=TestSetRun.Status.DONE)
    return run


def _store_results(
    run: TestSetRun,
    test_input: TestInput,
    targets: list[Target],
    results: list[ColumnResult],
) -> None:
    rows = []
    for target, result in zip(targets, results, strict=True):
        cost, _ = target.cost(
            input_tokens=result.input_tokens, output_tokens=result.output_tokens
        )
        ok = result.status == RunOutput.Status.DONE
        rows.append(
            TestResult(
                run=run,
                test_input=test_input,
                position=target.position,
                passed=ok
                and passes(test_input.check_kind, test_input.expected, result.text),
                output=result.text,
                error=result.error,
                latency_ms=result.total_ms,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                cost_usd=cost if ok else None,
            )
        )
    with transaction.atomic():
        TestResult.objects.bulk_create(rows, ignore_conflicts=True)
        run.completed = run.results.count()
        run.save(update_fields=["completed"])
    _record_results_usage(run, test_input, targets)


def _record_results_usage(
    run: TestSetRun, test_input: TestInput, targets: list[Target]
) -> None:
    """Record the answered results as usage, keyed by result (stored or not now)."""
    by_position = {t.position: t for t in targets}
    # Read back: ``ignore_conflicts`` leaves the new rows without their ids.
    stored = TestResult.objects.filter(
        run=run, test_input=test_input, position__in=list(by_position), error=""
    )
    for result in stored:
        target = by_position[result.position]
        record_portal_usage(
            endpoint_id=target.endpoint_id,
            kind=target.kind,
            key=f"test-result={result.pk}",
            model=target.model,
            use_case_id=run.test_set.use_case_id,
            at=result.created_at,
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
        )


def _finish(run: TestSetRun, *, status: str, error: str = "") -> None:
    run.status = status
    run.error = error
    run.completed = run.results.count()
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "completed", "finished_at"])

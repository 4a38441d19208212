"""`/api/v1/use-cases/{id}/risk-assessment/`, `stages/`, `conditions/`, `incidents/`
and `/api/v1/risk/register/`: the governance gates by API (DESIGN §10)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.reviews import conditions as condition_service
from apps.reviews import incidents as incident_service
from apps.reviews.models import Condition, Incident, IncidentAction
from apps.risk import rules
from apps.risk import services as risk_service
from apps.risk.models import (
    ApprovalStage,
    EuTier,
    RiskAssessment,
    StageDecision,
    submission_round,
)
from apps.usecases.access import get_use_case_for
from apps.usecases.models import UseCase


def _field_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict)


# --- Risk assessment ---------------------------------------------------------


class SovereigntySerializer(serializers.Serializer):
    """Te Mana Raraunga: one answer per principle (required for Indigenous data)."""

    rangatiratanga = serializers.CharField(
        required=False, allow_blank=True, max_length=1000
    )
    whakapapa = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    whanaungatanga = serializers.CharField(
        required=False, allow_blank=True, max_length=1000
    )
    kotahitanga = serializers.CharField(
        required=False, allow_blank=True, max_length=1000
    )
    manaakitanga = serializers.CharField(
        required=False, allow_blank=True, max_length=1000
    )
    kaitiakitanga = serializers.CharField(
        required=False, allow_blank=True, max_length=1000
    )


class SovereigntyEvidenceSerializer(serializers.Serializer):
    authority_holder = serializers.CharField(
        required=False, allow_blank=True, max_length=300
    )
    agreement_reference = serializers.CharField(
        required=False, allow_blank=True, max_length=300
    )
    data_hosting = serializers.ChoiceField(
        choices=rules.HOSTING, required=False, allow_blank=True
    )
    model_hosting = serializers.ChoiceField(
        choices=rules.HOSTING, required=False, allow_blank=True
    )
    kaitiaki_reviewer = serializers.CharField(
        required=False, allow_blank=True, max_length=300
    )


class RiskAnswersSerializer(serializers.Serializer):
    """The questionnaire. Rules across fields (Indigenous data needs every
    sovereignty answer and evidence item; personal or health data a PIA reference;
    data that must stay cannot be hosted overseas) are 400s naming the field,
    e.g. `sovereignty.rangatiratanga`."""

    prohibited_practices = serializers.ListField(
        child=serializers.ChoiceField(choices=list(rules.PROHIBITED_PRACTICES)),
        required=False,
        default=list,
    )
    high_risk_areas = serializers.ListField(
        child=serializers.ChoiceField(choices=list(rules.HIGH_RISK_AREAS)),
        required=False,
        default=list,
    )
    transparency = serializers.ListField(
        child=serializers.ChoiceField(choices=list(rules.TRANSPARENCY_DUTIES)),
        required=False,
        default=list,
    )
    charter_likelihood = serializers.ChoiceField(choices=rules.LIKELIHOODS)
    charter_impact = serializers.ChoiceField(choices=rules.IMPACTS)
    sovereignty = SovereigntySerializer(required=False, default=dict)
    sovereignty_evidence = SovereigntyEvidenceSerializer(required=False, default=dict)
    pia_reference = serializers.CharField(
        required=False, allow_blank=True, max_length=200
    )
    impact_assessment_reference = serializers.CharField(
        required=False, allow_blank=True, max_length=200
    )
    data_provenance = serializers.CharField(
        required=False, allow_blank=True, max_length=500
    )
    monitoring_plan = serializers.CharField(
        required=False, allow_blank=True, max_length=500
    )
    third_party_terms = serializers.CharField(
        required=False, allow_blank=True, max_length=500
    )


class StageNeedSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=rules.STAGES)
    reason = serializers.CharField()


class EvidenceItemSerializer(serializers.Serializer):
    control = serializers.CharField()
    item = serializers.CharField()
    evidence = serializers.CharField(allow_blank=True)
    satisfied = serializers.BooleanField()


class RiskResultSerializer(serializers.Serializer):
    eu_ai_act_tier = serializers.ChoiceField(choices=EuTier.choices)
    eu_reason = serializers.CharField()
    charter_risk = serializers.ChoiceField(choices=rules.CHARTER_RISKS)
    charter_reason = serializers.CharField()
    charter_application = serializers.ChoiceField(choices=["could", "should", "must"])
    must_publish = serializers.BooleanField()
    pia_required = serializers.BooleanField()
    pia_reason = serializers.CharField()
    sovereignty_required = serializers.BooleanField()
    stages = StageNeedSerializer(many=True)
    evidence = EvidenceItemSerializer(many=True)
    review_interval_months = serializers.IntegerField()


class RiskAssessmentSerializer(serializers.ModelSerializer):
    answers = RiskAnswersSerializer(read_only=True)
    result = RiskResultSerializer(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    policy_version = serializers.IntegerField(
        source="policy_version.number", read_only=True
    )

    class Meta:
        model = RiskAssessment
        fields = [
            "id",
            "use_case",
            "number",
            "eu_ai_act_tier",
            "charter_risk",
            "pia_required",
            "answers",
            "result",
            "policy_version",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class RiskAssessmentView(APIView):
    """The use-case's latest risk assessment; its owner records a new version."""

    @extend_schema(responses=RiskAssessmentSerializer)
    def get(self, request, pk: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        latest = (
            RiskAssessment.objects.filter(use_case=use_case)
            .select_related("policy_version", "created_by")
            .order_by("-number")
            .first()
        )
        if latest is None:
            raise NotFound("No risk assessment yet.")
        return Response(RiskAssessmentSerializer(latest).data)

    @extend_schema(
        request=RiskAnswersSerializer, responses={201: RiskAssessmentSerializer}
    )
    def post(self, request, pk: int):  # type: ignore[no-untyped-def]
        """Record a new version (the owner, until the board decides)."""
        use_case = get_use_case_for(request.user, pk)
        if not risk_service.may_edit_risk(use_case, request.user):
            raise PermissionDenied(
                "Only the owner records the risk assessment, before the decision."
            )
        payload = RiskAnswersSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            saved = risk_service.record_risk_assessment(
                use_case=use_case, by=request.user, answers=payload.validated_data
            )
        except DjangoValidationError as exc:
            raise _field_errors(exc) from exc
        return Response(
            RiskAssessmentSerializer(saved).data, status=status.HTTP_201_CREATED
        )


# --- Approval stages ---------------------------------------------------------


class StageDecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = StageDecision
        fields = [
            "id",
            "stage",
            "outcome",
            "reason",
            "evidence",
            "decided_by",
            "created_at",
        ]
        read_only_fields = fields


class StageSerializer(serializers.ModelSerializer):
    decisions = StageDecisionSerializer(many=True, read_only=True)
    approvers = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalStage
        fields = [
            "id",
            "use_case",
            "round",
            "kind",
            "mode",
            "reason",
            "roles",
            "approvers",
            "status",
            "decisions",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields

    def get_approvers(self, stage: ApprovalStage) -> list[int]:
        """Ids of the people fixed when the stage opened (roles may add more)."""
        return list(stage.approver_ids)


class StageDecisionInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=StageDecision.Outcome.choices)
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=5000,
        help_text="Required to reject or request changes.",
    )
    evidence = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500
    )


def _stages(use_case: UseCase) -> list[ApprovalStage]:
    return list(
        ApprovalStage.objects.filter(
            use_case=use_case, round=submission_round(use_case)
        )
        .prefetch_related(
            Prefetch(
                "decisions", queryset=StageDecision.objects.select_related("decided_by")
            )
        )
        .order_by("pk")
    )


class StageListView(APIView):
    """The approval stages of the use-case's present submission."""

    @extend_schema(responses=StageSerializer(many=True))
    def get(self, request, pk: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        return Response(StageSerializer(_stages(use_case), many=True).data)


class StageDecideView(APIView):
    """An approver decides a stage: 403 for anyone else, 400 for a missing reason."""

    @extend_schema(
        request=StageDecisionInputSerializer, responses={201: StageSerializer}
    )
    def post(self, request, pk: int, stage_id: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        stage = ApprovalStage.objects.filter(use_case=use_case, pk=stage_id).first()
        if stage is None:
            raise NotFound("No such stage.")
        stage.use_case = use_case
        if not stage.may_decide(request.user):
            raise PermissionDenied("You are not among this stage's approvers.")
        payload = StageDecisionInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            risk_service.decide_stage(
                stage=stage, by=request.user, **payload.validated_data
            )
        except risk_service.StageForbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except DjangoValidationError as exc:
            raise _field_errors(exc) from exc
        fresh = next(s for s in _stages(use_case) if s.pk == stage.pk)
        return Response(StageSerializer(fresh).data, status=status.HTTP_201_CREATED)


# --- Conditions ----------------------------------------------------------------


class ConditionSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Condition
        fields = [
            "id",
            "use_case",
            "decision",
            "text",
            "owner",
            "due_date",
            "before_go_live",
            "status",
            "evidence",
            "resolved_by",
            "resolved_at",
            "created_at",
        ]
        read_only_fields = fields


class ResolveConditionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[Condition.Status.DONE, Condition.Status.WAIVED]
    )
    evidence = serializers.CharField(
        max_length=2000, help_text="What shows it is met, or why it is waived."
    )


class ConditionListView(APIView):
    """The conditions of the use-case's approvals, as tasks."""

    @extend_schema(responses=ConditionSerializer(many=True))
    def get(self, request, pk: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        rows = Condition.objects.filter(use_case=use_case).select_related(
            "owner", "resolved_by"
        )
        return Response(ConditionSerializer(rows, many=True).data)


class ConditionResolveView(APIView):
    """Its owner marks it done; the board marks it done or waives it."""

    @extend_schema(
        request=ResolveConditionSerializer, responses={200: ConditionSerializer}
    )
    def post(self, request, pk: int, condition_id: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        condition = Condition.objects.filter(use_case=use_case, pk=condition_id).first()
        if condition is None:
            raise NotFound("No such condition.")
        if not condition_service.may_resolve(condition, request.user):
            raise PermissionDenied(
                "Only the condition's owner or the board resolves it."
            )
        payload = ResolveConditionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            condition_service.resolve_condition(
                condition=condition, by=request.user, **payload.validated_data
            )
        except DjangoValidationError as exc:
            raise _field_errors(exc) from exc
        return Response(ConditionSerializer(condition).data)


# --- Incidents -----------------------------------------------------------------


class IncidentActionSerializer(serializers.ModelSerializer):
    by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IncidentAction
        fields = ["id", "body", "by", "created_at"]
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    reported_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    actions = IncidentActionSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "use_case",
            "kind",
            "severity",
            "title",
            "description",
            "status",
            "reported_by",
            "actions",
            "resolution",
            "resolved_by",
            "resolved_at",
            "created_at",
        ]
        read_only_fields = [
            "id",
            "use_case",
            "status",
            "reported_by",
            "actions",
            "resolution",
            "resolved_by",
            "resolved_at",
            "created_at",
        ]
        extra_kwargs = {"description": {"max_length": 10000}}


class IncidentActionInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=5000)
    resolve = serializers.BooleanField(
        required=False, default=False, help_text="This action resolves the incident."
    )


def _incidents(use_case: UseCase):  # type: ignore[no-untyped-def]
    return (
        Incident.objects.filter(use_case=use_case)
        .select_related("reported_by", "resolved_by")
        .prefetch_related(
            Prefetch("actions", queryset=IncidentAction.objects.select_related("by"))
        )
    )


class IncidentListView(APIView):
    """Incidents on the use-case, newest first; anyone who sees it reports one
    (auditors only read)."""

    @extend_schema(responses=IncidentSerializer(many=True))
    def get(self, request, pk: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        return Response(IncidentSerializer(_incidents(use_case), many=True).data)

    @extend_schema(request=IncidentSerializer, responses={201: IncidentSerializer})
    def post(self, request, pk: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        if not incident_service.may_report(use_case, request.user):
            raise PermissionDenied("Auditors read incidents; they do not report them.")
        payload = IncidentSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            incident = incident_service.report_incident(
                use_case=use_case, by=request.user, **payload.validated_data
            )
        except DjangoValidationError as exc:
            raise _field_errors(exc) from exc
        fresh = _incidents(use_case).get(pk=incident.pk)
        return Response(IncidentSerializer(fresh).data, status=status.HTTP_201_CREATED)


class IncidentActionView(APIView):
    """The owner or the board records an action (and with `resolve`, closes it)."""

    @extend_schema(
        request=IncidentActionInputSerializer, responses={201: IncidentSerializer}
    )
    def post(self, request, pk: int, incident_id: int):  # type: ignore[no-untyped-def]
        use_case = get_use_case_for(request.user, pk)
        incident = Incident.objects.filter(use_case=use_case, pk=incident_id).first()
        if incident is None:
            raise NotFound("No such incident.")
        incident.use_case = use_case
        if not incident_service.may_handle(incident, request.user):
            raise PermissionDenied("The owner and the board handle incidents.")
        payload = IncidentActionInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            incident_service.add_incident_action(
                incident=incident, by=request.user, **payload.validated_data
            )
        except DjangoValidationError as exc:
            raise _field_errors(exc) from exc
        fresh = _incidents(use_case).get(pk=incident.pk)
        return Response(IncidentSerializer(fresh).data, status=status.HTTP_201_CREATED)


# --- Algorithm register ----------------------------------------------------------


class RegisterEntrySerializer(serializers.Serializer):
    use_case_id = serializers.IntegerField()
    name = serializers.CharField()
    agency_team = serializers.CharField()
    purpose = serializers.CharField()
    charter_risk = serializers.ChoiceField(choices=rules.CHARTER_RISKS)
    eu_ai_act_tier = serializers.ChoiceField(choices=EuTier.choices)
    data_used = serializers.CharField()
    human_oversight = serializers.CharField(allow_blank=True)
    contact = serializers.CharField()
    last_assessed = serializers.DateField()


class RegisterView(APIView):
    """Public algorithm-register entries (Algorithm Charter) among the use-cases
    the caller sees: approved or live, with a Charter risk that must publish."""

    @extend_schema(responses=RegisterEntrySerializer(many=True))
    def get(self, request):  # type: ignore[no-untyped-def]
        rows = risk_service.register_entries(UseCase.objects.visible_to(request.user))
        return Response(RegisterEntrySerializer(rows, many=True).data)

"""The risk rules as pure functions: answers and a data profile in, outcomes out.

No Django import (like the framework engine): the rules take plain values and a
`RiskPolicy`, validate the answers against the data profile, and return a frozen
`RiskResult` whose every outcome is explained in words. docs/governance.md gives
the sources for each framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

EU_TIERS = ("prohibited", "high", "limited", "minimal")
CHARTER_RISKS = ("low", "moderate", "high")
LIKELIHOODS = ("improbable", "occasional", "probable")
IMPACTS = ("low", "moderate", "high")
PRINCIPLES = (
    "rangatiratanga",
    "whakapapa",
    "whanaungatanga",
    "kotahitanga",
    "manaakitanga",
    "kaitiakitanga",
)
STAGES = ("privacy", "security", "legal", "data_sovereignty", "finance")
STAGE_MODES = ("any", "all")
HOSTING = ("in_house", "aotearoa", "overseas")

# EU AI Act (Regulation (EU) 2024/1689), Art. 5(1): practices that are banned.
PROHIBITED_PRACTICES: dict[str, str] = {
    "manipulation": "subliminal, manipulative or deceptive techniques that "
    "materially distort behaviour (Art. 5(1)(a))",
    "exploiting_vulnerabilities": "exploiting vulnerabilities of age, disability or "
    "social or economic situation (Art. 5(1)(b))",
    "social_scoring": "social scoring leading to detrimental treatment (Art. 5(1)(c))",
    "crime_prediction_by_profiling": "predicting a person's offending solely from "
    "profiling or personality traits (Art. 5(1)(d))",
    "face_scraping": "untargeted scraping of facial images to build recognition "
    "databases (Art. 5(1)(e))",
    "emotion_recognition_work_education": "inferring emotions at work or in "
    "education (Art. 5(1)(f))",
    "biometric_categorisation_sensitive": "biometric categorisation to infer race, "
    "politics, union membership, beliefs or sex life (Art. 5(1)(g))",
    "realtime_remote_biometric_identification": "real-time remote biometric "
    "identification in public spaces for law enforcement (Art. 5(1)(h))",
}
# Annex III: the areas in which a system is high-risk.
HIGH_RISK_AREAS: dict[str, str] = {
    "biometrics": "biometric identification or categorisation (Annex III, 1)",
    "critical_infrastructure": "safety components of critical infrastructure "
    "(Annex III, 2)",
    "education": "education and vocational training: admission, assessment, "
    "proctoring (Annex III, 3)",
    "employment": "employment: recruitment, promotion, termination, task "
    "allocation, monitoring (Annex III, 4)",
    "essential_public_services": "eligibility for essential public services and "
    "benefits, emergency call triage (Annex III, 5(a), 5(d))",
    "credit_insurance": "creditworthiness, or life and health insurance pricing "
    "(Annex III, 5(b), 5(c))",
    "law_enforcement": "law enforcement (Annex III, 6)",
    "migration": "migration, asylum and border control (Annex III, 7)",
    "justice": "administration of justice and democratic processes (Annex III, 8)",
}
# Art. 50: transparency obligations.
TRANSPARENCY_DUTIES: dict[str, str] = {
    "interacts_with_people": "people interact with it directly, e.g. a chatbot "
    "(Art. 50(1))",
    "generates_content": "it generates synthetic text, audio, images or video "
    "(Art. 50(2))",
    "deep_fakes": "it generates or manipulates content resembling real people, "
    "places or events (Art. 50(4))",
    "emotion_or_biometric_categorisation": "it recognises emotions or categorises "
    "people biometrically (Art. 50(3))",
}
# The Algorithm Charter's six commitments.
CHARTER_COMMITMENTS = (
    "Transparency",
    "Partnership",
    "People",
    "Data",
    "Privacy, ethics and human rights",
    "Human oversight",
)
# What each charter_risk means for the commitments (the Charter's own words).
CHARTER_APPLICATION = {"low": "could", "moderate": "should", "high": "must"}

# Evidence for Indigenous data: each key is a required answer.
SOVEREIGNTY_EVIDENCE: dict[str, str] = {
    "authority_holder": "Who holds authority over the data (iwi, hapū, organisation)",
    "agreement_reference": "Reference of the data agreement or consultation",
    "data_hosting": "Where the data is hosted",
    "model_hosting": "Where the model is hosted",
    "kaitiaki_reviewer": "The kaitiaki reviewer",
}

# ISO/IEC 42001:2023 Annex A controls the portal collects evidence for.
ISO_CONTROLS: tuple[tuple[str, str, str], ...] = (
    # (control, item, where the evidence comes from)
    ("A.5", "AI system impact assessment", "impact"),
    ("A.7", "Data for AI systems: provenance, quality, privacy", "data"),
    (
        "A.6",
        "AI system life cycle: requirements, verification, monitoring",
        "lifecycle",
    ),
    (
        "A.10",
        "Third-party and customer relationships: suppliers, hosting",
        "third_party",
    ),
)


@dataclass(frozen=True, slots=True)
class StageRule:
    """Who approves one stage, and whether one or all of them must."""

    roles: tuple[str, ...] = ("board",)
    users: tuple[str, ...] = ()  # usernames
    mode: str = "any"


def _default_stage_rules() -> dict[str, StageRule]:
    return {
        "privacy": StageRule(roles=("board",)),
        "security": StageRule(roles=("platform",)),
        "legal": StageRule(roles=("board",)),
        "data_sovereignty": StageRule(roles=("board",)),
        "finance": StageRule(roles=("procurement",)),
    }


def _default_matrix() -> dict[str, dict[str, str]]:
    # Algorithm Charter risk matrix: likelihood (rows) x impact (columns).
    return {
        "improbable": {"low": "low", "moderate": "low", "high": "moderate"},
        "occasional": {"low": "low", "moderate": "moderate", "high": "high"},
        "probable": {"low": "moderate", "moderate": "high", "high": "high"},
    }


@dataclass(frozen=True)
class RiskPolicy:
    """The risk rules' settings: versioned with the framework policy's approach,
    stored as JSON (`as_dict`/`from_dict`), defaults here."""

    charter_matrix: dict[str, dict[str, str]] = field(default_factory=_default_matrix)
    # Charter risks at and above which a public algorithm-register entry is due.
    register_risks: tuple[str, ...] = ("high",)
    personal_categories: tuple[str, ...] = ("personal", "health")
    health_categories: tuple[str, ...] = ("health",)
    indigenous_categories: tuple[str, ...] = ("indigenous",)
    # Restricted data needs the security stage; platform can add "confidential".
    security_classifications: tuple[str, ...] = ("restricted",)
    finance_threshold_monthly: float = 10_000.0
    stage_rules: dict[str, StageRule] = field(default_factory=_default_stage_rules)
    # Months between periodic reviews, per EU tier (0: never approved, no review).
    review_interval_months: dict[str, int] = field(
        default_factory=lambda: {
            "prohibited": 0,
            "high": 6,
            "limited": 12,
            "minimal": 24,
        }
    )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["register_risks"] = list(self.register_risks)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskPolicy:
        """Build and validate; raises ValueError naming the bad setting."""
        default = cls()
        values: dict[str, Any] = {}
        for name in (
            "register_risks",
            "personal_categories",
            "health_categories",
            "indigenous_categories",
            "security_classifications",
        ):
            values[name] = tuple(data.get(name, getattr(default, name)))
        matrix = data.get("charter_matrix", default.charter_matrix)
        for likelihood in LIKELIHOODS:
            for impact in IMPACTS:
                if matrix.get(likelihood, {}).get(impact) not in CHARTER_RISKS:
                    raise ValueError(
                        f"charter_matrix: {likelihood}, {impact} must be one of "
                        f"{', '.join(CHARTER_RISKS)}."
                    )
        values["charter_matrix"] = {k: dict(v) for k, v in matrix.items()}
        if not set(values["register_risks"]) <= set(CHARTER_RISKS):
            raise ValueError("register_risks: only low, moderate or high.")
        threshold = float(
            data.get("finance_threshold_monthly", default.finance_threshold_monthly)
        )
        if threshold < 0:
            raise ValueError("finance_threshold_monthly: must not be negative.")
        values["finance_threshold_monthly"] = threshold
        rules = {}
        given = data.get("stage_rules", {})
        for stage in STAGES:
            raw = given.get(stage)
            if raw is None:
                rules[stage] = default.stage_rules[stage]
                continue
            rule = StageRule(
                roles=tuple(raw.get("roles", ())),
                users=tuple(raw.get("users", ())),
                mode=raw.get("mode", "any"),
            )
            if rule.mode not in STAGE_MODES:
                raise ValueError(f"stage_rules.{stage}.mode: any or all.")
            if not rule.roles and not rule.users:
                raise ValueError(f"stage_rules.{stage}: name a role or people.")
            rules[stage] = rule
        values["stage_rules"] = rules
        intervals = dict(default.review_interval_months)
        intervals.update(data.get("review_interval_months", {}))
        if set(intervals) != set(EU_TIERS) or any(
            not isinstance(v, int) or v < 0 for v in intervals.values()
        ):
            raise ValueError("review_interval_months: whole months for each tier.")
        values["review_interval_months"] = intervals
        return cls(**values)


DEFAULT_RISK_POLICY = RiskPolicy()


@dataclass(frozen=True)
class Profile:
    """What the use-case already says about its data and cost."""

    special_categories: tuple[str, ...] = ()
    data_classification: str = "internal"
    must_stay: bool = False  # derived: the requester's answer or the data policy
    monthly_cost: float | None = None  # the framework's latest estimate


@dataclass(frozen=True)
class Answers:
    """The questionnaire. Lists hold keys of the tables above."""

    prohibited_practices: tuple[str, ...] = ()
    high_risk_areas: tuple[str, ...] = ()
    transparency: tuple[str, ...] = ()
    charter_likelihood: str = ""
    charter_impact: str = ""
    # Te Mana Raraunga: one answer per principle, and the evidence items.
    sovereignty: dict[str, str] = field(default_factory=dict)
    sovereignty_evidence: dict[str, str] = field(default_factory=dict)
    pia_reference: str = ""
    impact_assessment_reference: str = ""
    data_provenance: str = ""
    monitoring_plan: str = ""
    third_party_terms: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answers:
        def strings(name: str) -> tuple[str, ...]:
            value = data.get(name) or ()
            return tuple(str(v) for v in value)

        def mapping(name: str) -> dict[str, str]:
            value = data.get(name) or {}
            return {str(k): str(v or "").strip() for k, v in dict(value).items()}

        return cls(
            prohibited_practices=strings("prohibited_practices"),
            high_risk_areas=strings("high_risk_areas"),
            transparency=strings("transparency"),
            charter_likelihood=str(data.get("charter_likelihood") or ""),
            charter_impact=str(data.get("charter_impact") or ""),
            sovereignty=mapping("sovereignty"),
            sovereignty_evidence=mapping("sovereignty_evidence"),
            **{
                name: str(data.get(name) or "").strip()
                for name in (
                    "pia_reference",
                    "impact_assessment_reference",
                    "data_provenance",
                    "monitoring_plan",
                    "third_party_terms",
                )
            },
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("prohibited_practices", "high_risk_areas", "transparency"):
            data[name] = list(data[name])
        return data


@dataclass(frozen=True)
class Tier:
    value: str
    reason: str


@dataclass(frozen=True)
class StageNeed:
    stage: str
    reason: str


@dataclass(frozen=True)
class EvidenceItem:
    control: str
    item: str
    evidence: str  # "" when missing

    @property
    def satisfied(self) -> bool:
        return bool(self.evidence)


@dataclass(frozen=True)
class RiskResult:
    """What the rules concluded, each with its reason in words."""

    eu_ai_act_tier: str
    eu_reason: str
    charter_risk: str
    charter_reason: str
    charter_application: str  # could | should | must
    must_publish: bool
    pia_required: bool
    pia_reason: str
    sovereignty_required: bool
    stages: tuple[StageNeed, ...]
    evidence: tuple[EvidenceItem, ...]
    review_interval_months: int

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = [asdict(s) for s in self.stages]
        data["evidence"] = [
            {**asdict(e), "satisfied": e.satisfied} for e in self.evidence
        ]
        return data


def eu_ai_act_tier(answers: Answers) -> Tier:
    """Art. 5 first, then Annex III, then Art. 50, else minimal."""
    if answers.prohibited_practices:
        named = "; ".join(
            PROHIBITED_PRACTICES.get(p, p) for p in answers.prohibited_practices
        )
        return Tier(
            "prohibited",
            f"Prohibited under the EU AI Act: {named}. It cannot be approved.",
        )
    if answers.high_risk_areas:
        named = "; ".join(HIGH_RISK_AREAS.get(a, a) for a in answers.high_risk_areas)
        return Tier(
            "high",
            f"High-risk under the EU AI Act: {named}. Risk management, data "
            "governance, logging, human oversight and a conformity assessment "
            "apply.",
        )
    if answers.transparency:
        named = "; ".join(TRANSPARENCY_DUTIES.get(t, t) for t in answers.transparency)
        return Tier(
            "limited",
            f"Transparency duties under Art. 50: {named}. People must be told they "
            "are dealing with AI, and generated content marked.",
        )
    return Tier(
        "minimal",
        "Minimal risk: no prohibited practice, no Annex III area and no "
        "transparency duty was declared.",
    )


def charter_risk(answers: Answers, *, policy: RiskPolicy = DEFAULT_RISK_POLICY) -> Tier:
    """The Algorithm Charter's likelihood-by-impact matrix."""
    likelihood, impact = answers.charter_likelihood, answers.charter_impact
    if likelihood not in LIKELIHOODS or impact not in IMPACTS:
        return Tier("", "Answer the likelihood and the impact questions.")
    risk = policy.charter_matrix[likelihood][impact]
    application = CHARTER_APPLICATION[risk]
    return Tier(
        risk,
        f"Likelihood of unintended adverse outcomes is {likelihood}, their impact "
        f"{impact}: {risk} risk on the Charter's matrix, so its commitments "
        f"({', '.join(CHARTER_COMMITMENTS).lower()}) {application} be applied.",
    )


def _has(profile: Profile, categories: tuple[str, ...]) -> bool:
    return bool(set(profile.special_categories) & set(categories))


def validate(
    answers: Answers, profile: Profile, *, policy: RiskPolicy = DEFAULT_RISK_POLICY
) -> dict[str, str]:
    """Field errors: answers that are unknown, missing, or contradict the profile."""
    errors: dict[str, str] = {}
    tables = {
        "prohibited_practices": PROHIBITED_PRACTICES,
        "high_risk_areas": HIGH_RISK_AREAS,
        "transparency": TRANSPARENCY_DUTIES,
    }
    for name, table in tables.items():
        unknown = [v for v in getattr(answers, name) if v not in table]
        if unknown:
            errors[name] = f"Unknown: {', '.join(unknown)}."
    if answers.charter_likelihood not in LIKELIHOODS:
        errors["charter_likelihood"] = "Choose how likely adverse outcomes are."
    if answers.charter_impact not in IMPACTS:
        errors["charter_impact"] = "Choose how serious their impact would be."
    if _has(profile, policy.indigenous_categories):
        for principle in PRINCIPLES:
            if not answers.sovereignty.get(principle):
                errors[f"sovereignty.{principle}"] = (
                    "The data profile includes Indigenous data: answer this "
                    "Te Mana Raraunga principle."
                )
        for key, label in SOVEREIGNTY_EVIDENCE.items():
            if not answers.sovereignty_evidence.get(key):
                errors[f"sovereignty_evidence.{key}"] = (
                    f"{label} is required evidence for Indigenous data."
                )
    for key in ("data_hosting", "model_hosting"):
        where = answers.sovereignty_evidence.get(key, "")
        if where and where not in HOSTING:
            errors[f"sovereignty_evidence.{key}"] = (
                f"One of {', '.join(HOSTING)}, not “{where}”."
            )
        elif where == "overseas" and profile.must_stay:
            errors[f"sovereignty_evidence.{key}"] = (
                "The data profile says this data must stay in our infrastructure; "
                "it cannot be hosted overseas."
            )
        elif (
            where == "overseas"
            and _has(profile, policy.indigenous_categories)
            and key == "data_hosting"
        ):
            errors[f"sovereignty_evidence.{key}"] = (
                "Indigenous data is hosted in Aotearoa (rangatiratanga and "
                "kaitiakitanga)."
            )
    if _has(profile, policy.personal_categories) and not answers.pia_reference:
        errors["pia_reference"] = (
            "Personal or health information: give the privacy impact assessment's "
            "reference."
        )
    return errors


def evaluate(
    answers: Answers, profile: Profile, *, policy: RiskPolicy = DEFAULT_RISK_POLICY
) -> RiskResult:
    """Tiers, stages and evidence for validated answers (see :func:`validate`)."""
    eu = eu_ai_act_tier(answers)
    charter = charter_risk(answers, policy=policy)
    personal = _has(profile, policy.personal_categories)
    health = _has(profile, policy.health_categories)
    indigenous = _has(profile, policy.indigenous_categories)
    if health:
        pia_reason = (
            "Health information: a privacy impact assessment is required under the "
            "Privacy Act 2020 and the Health Information Privacy Code 2020."
        )
    elif personal:
        pia_reason = (
            "Personal information: a privacy impact assessment is required under "
            "the Privacy Act 2020 (information privacy principles)."
        )
    else:
        pia_reason = "No personal or health information: no PIA is required."
    stages = required_stages(
        profile, eu_tier=eu.value, charter=charter.value, policy=policy
    )
    evidence = (
        EvidenceItem(*ISO_CONTROLS[0][:2], answers.impact_assessment_reference),
        EvidenceItem(
            *ISO_CONTROLS[1][:2],
            "; ".join(
                part
                for part in (
                    answers.data_provenance,
                    f"PIA {answers.pia_reference}" if answers.pia_reference else "",
                    f"Sovereignty agreement "
                    f"{answers.sovereignty_evidence.get('agreement_reference')}"
                    if answers.sovereignty_evidence.get("agreement_reference")
                    else "",
                )
                if part
            ),
        ),
        EvidenceItem(*ISO_CONTROLS[2][:2], answers.monitoring_plan),
        EvidenceItem(*ISO_CONTROLS[3][:2], answers.third_party_terms),
    )
    return RiskResult(
        eu_ai_act_tier=eu.value,
        eu_reason=eu.reason,
        charter_risk=charter.value,
        charter_reason=charter.reason,
        charter_application=CHARTER_APPLICATION.get(charter.value, ""),
        must_publish=charter.value in policy.register_risks,
        pia_required=personal,
        pia_reason=pia_reason,
        sovereignty_required=indigenous,
        stages=stages,
        evidence=evidence,
        review_interval_months=policy.review_interval_months.get(eu.value, 0),
    )


def required_stages(
    profile: Profile,
    *,
    eu_tier: str = "",
    charter: str = "",
    policy: RiskPolicy = DEFAULT_RISK_POLICY,
) -> tuple[StageNeed, ...]:
    """The approval stages the policy triggers, each with its reason.

    Works without a risk assessment too (tiers blank): the data profile alone
    already decides privacy, security, sovereignty and finance.
    """
    needs = []
    if _has(profile, policy.personal_categories):
        needs.append(StageNeed("privacy", "Personal or health information."))
    if profile.data_classification in policy.security_classifications:
        needs.append(
            StageNeed("security", f"Data classified {profile.data_classification}.")
        )
    if eu_tier in ("high", "prohibited") or charter == "high":
        why = []
        if eu_tier in ("high", "prohibited"):
            why.append(f"EU AI Act tier {eu_tier}")
        if charter == "high":
            why.append("Algorithm Charter risk high")
        needs.append(StageNeed("legal", " and ".join(why) + "."))
    if _has(profile, policy.indigenous_categories):
        needs.append(
            StageNeed("data_sovereignty", "Indigenous data (Te Mana Raraunga).")
        )
    cost = profile.monthly_cost
    if cost is not None and cost > policy.finance_threshold_monthly:
        needs.append(
            StageNeed(
                "finance",
                f"Estimated ${cost:,.0f} a month, above the "
                f"${policy.finance_threshold_monthly:,.0f} threshold.",
            )
        )
    return tuple(needs)


REGISTER_COLUMNS = (
    "use_case_id",
    "name",
    "agency_team",
    "purpose",
    "charter_risk",
    "eu_ai_act_tier",
    "data_used",
    "human_oversight",
    "contact",
    "last_assessed",
)

"""Every email the review process sends is built here, and sent after commit.

Submissions go to the board, decisions and requested changes to the owner, and
mentions to the people mentioned who may read the comment. The same moments are
emitted as events (`apps.core.events`), which `notify` turns into inbox items
and deliveries to the subscribed channels.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse

from apps.accounts.models import User
from apps.core.events import Event, EventKind, emit
from apps.usecases.models import Transition, UseCase

from .models import INTERNAL_READERS, Comment, Decision

if TYPE_CHECKING:
    from collections.abc import Iterable

S = UseCase.Status
OWNER_NOTICES = {
    S.APPROVED: "Approved",
    S.REJECTED: "Rejected",
    S.CHANGES_REQUESTED: "Changes requested",
}


def link(url_name: str, use_case: UseCase) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse(url_name, args=[use_case.pk])


def _name(user: User) -> str:
    return user.get_full_name() or user.username


def _message(subject: str, body: str, to: User) -> EmailMessage:
    return EmailMessage(
        subject=f"[AI Portal] {subject}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to.email],
    )


def board_members(*, exclude: Iterable[int] = ()) -> list[User]:
    return list(
        User.objects.filter(groups__name="board", is_active=True)
        .exclude(email="")
        .exclude(pk__in=list(exclude))
        .distinct()
        .order_by("username")
    )


def build_submitted_messages(transition: Transition) -> list[EmailMessage]:
    use_case = transition.use_case
    body = (
        f"{_name(use_case.owner)} ({use_case.team}) submitted “{use_case.title}” "
        "for review.\n\n"
        f"Classification: {use_case.get_data_classification_display()}\n"
        f"Requests a day: {use_case.requests_per_day:,}\n"
        + (f"\nNote: {transition.comment}\n" if transition.comment else "")
        + f"\nReview it: {link('reviews:review', use_case)}\n"
    )
    return [
        _message(f"Submitted for review: {use_case.title}", body, member)
        for member in board_members(exclude=[transition.actor_id])
    ]


def build_decision_message(
    transition: Transition, decision: Decision | None
) -> EmailMessage | None:
    use_case = transition.use_case
    owner = use_case.owner
    if not owner.email or not owner.is_active:
        return None
    verdict = OWNER_NOTICES[transition.to_status]
    lines = [
        f"Hello {_name(owner)},",
        "",
        f"The architecture board has decided on “{use_case.title}”: {verdict.lower()}.",
    ]
    if decision is not None and decision.pattern:
        lines.append(f"Pattern: {decision.get_pattern_display()}.")
    if decision is not None and decision.chosen_models:
        lines.append("Models or endpoints: " + ", ".join(decision.chosen_models) + ".")
    if decision is not None and decision.conditions:
        lines += ["", "Conditions:", *(f"- {c}" for c in decision.conditions)]
    if transition.comment:
        lines += ["", f"{_name(transition.actor)} wrote:", transition.comment]
    if transition.to_status == S.CHANGES_REQUESTED:
        lines += ["", "Edit the use-case and submit it again when it is ready."]
    lines += ["", f"Open it: {link('usecases:detail', use_case)}"]
    return _message(f"{verdict}: {use_case.title}", "\n".join(lines) + "\n", owner)


def build_transition_messages(transition: Transition) -> list[EmailMessage]:
    if transition.to_status == S.SUBMITTED:
        return build_submitted_messages(transition)
    if transition.to_status in OWNER_NOTICES:
        decision = Decision.objects.filter(transition=transition).first()
        message = build_decision_message(transition, decision)
        return [message] if message else []
    return []


def may_read(comment: Comment, user: User) -> bool:
    if comment.internal and not user.has_role(*INTERNAL_READERS):
        return False
    return UseCase.objects.visible_to(user).filter(pk=comment.use_case_id).exists()


def build_mention_messages(comment: Comment) -> list[EmailMessage]:
    use_case = comment.use_case
    people = User.objects.filter(
        username__in=comment.mentioned_usernames(), is_active=True
    ).exclude(pk=comment.author_id)
    messages = []
    for person in people:
        if not person.email or not may_read(comment, person):
            continue
        url = link(
            "reviews:review"
            if person.has_role(*INTERNAL_READERS)
            else "usecases:detail",
            use_case,
        )
        body = (
            f"{_name(comment.author)} mentioned you on “{use_case.title}”"
            + (" in an internal note" if comment.internal else "")
            + f":\n\n{comment.body}\n\nReply: {url}\n"
        )
        messages.append(_message(f"You were mentioned: {use_case.title}", body, person))
    return messages


def send(messages: list[EmailMessage]) -> int:
    if not messages:
        return 0
    return get_connection().send_messages(messages) or 0


def send_transition_notices(*, transition_id: int) -> int:
    transition = Transition.objects.select_related(
        "use_case__owner", "use_case__team", "actor"
    ).get(pk=transition_id)
    return send(build_transition_messages(transition))


def send_mention_notices(*, comment_id: int) -> int:
    comment = Comment.objects.select_related("use_case__owner", "author").get(
        pk=comment_id
    )
    event = mention_event(comment)
    if event is not None:
        emit(event)
    return send(build_mention_messages(comment))


def transition_event(transition: Transition) -> Event | None:
    """The event a move makes: submitted (to the board), or a verdict (to the owner)."""
    use_case = transition.use_case
    to = transition.to_status
    common: dict[str, Any] = {
        "key": f"transition:{transition.pk}",
        "body": transition.comment,
        "use_case_id": use_case.pk,
        "team_id": use_case.team_id,
        "actor_id": transition.actor_id,
        "context": {"from_status": transition.from_status, "to_status": to},
    }
    if to == S.SUBMITTED:
        return Event(
            kind=EventKind.USE_CASE_SUBMITTED,
            title=f"Submitted for review: {use_case.title}",
            url=reverse("reviews:review", args=[use_case.pk]),
            roles=("board",),
            **common,
        )
    if to in OWNER_NOTICES:
        return Event(
            kind=EventKind.CHANGES_REQUESTED
            if to == S.CHANGES_REQUESTED
            else EventKind.DECIDED,
            title=f"{OWNER_NOTICES[to]}: {use_case.title}",
            url=use_case.get_absolute_url(),
            user_ids=(use_case.owner_id,),
            **common,
        )
    return None


def mention_event(comment: Comment) -> Event | None:
    """The mentioned people who may read the comment; an internal note's words
    stay out of the event, which channels may carry further."""
    people = User.objects.filter(
        username__in=comment.mentioned_usernames(), is_active=True
    ).exclude(pk=comment.author_id)
    user_ids = tuple(person.pk for person in people if may_read(comment, person))
    if not user_ids:
        return None
    use_case = comment.use_case
    return Event(
        kind=EventKind.MENTIONED,
        key=f"comment:{comment.pk}",
        title=f"{_name(comment.author)} mentioned you: {use_case.title}",
        body="(an internal note)" if comment.internal else comment.body,
        url=use_case.get_absolute_url(),
        use_case_id=use_case.pk,
        team_id=use_case.team_id,
        actor_id=comment.author_id,
        user_ids=user_ids,
    )


def on_use_case_transitioned(
    sender: Any, *, transition: Transition, **kwargs: Any
) -> None:
    """Receiver of `use_case_transitioned`: mail and emit once the move is committed."""
    transaction.on_commit(partial(send_transition_notices, transition_id=transition.pk))
    event = transition_event(transition)
    if event is not None:
        emit(event)

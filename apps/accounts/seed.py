"""Demo teams and users for `seed_demo` (password `demo` for all)."""

from django.contrib.auth.models import Group

from .models import Team, User
from .roles import Role

TEAMS = [
    ("Claims", "claims"),
    ("Health Analytics", "health-analytics"),
    ("Customer Service", "customer-service"),
    ("Finance", "finance"),
    ("Community Partnerships", "community-partnerships"),
    ("Digital", "digital"),
]

# username, first, last, role, team slug
USERS = [
    ("requester", "Riya", "Patel", Role.REQUESTER, "claims"),
    ("board", "Ben", "Okafor", Role.BOARD, None),
    ("platform", "Paula", "Ngata", Role.PLATFORM, None),
    ("procurement", "Priya", "Shah", Role.PROCUREMENT, None),
    ("auditor", "Aroha", "Walker", Role.AUDITOR, None),
    ("hana", "Hana", "Kim", Role.REQUESTER, "health-analytics"),
    ("sam", "Sam", "Taylor", Role.REQUESTER, "customer-service"),
    ("fiona", "Fiona", "Lee", Role.REQUESTER, "finance"),
    ("tama", "Tama", "Rewi", Role.REQUESTER, "community-partnerships"),
    ("devi", "Devi", "Rao", Role.REQUESTER, "digital"),
]


def seed() -> dict[str, User]:
    teams = {
        slug: Team.objects.get_or_create(slug=slug, defaults={"name": name})[0]
        for name, slug in TEAMS
    }
    users = {}
    for username, first, last, role, team in USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@example.com",
                "team": teams.get(team) if team else None,
            },
        )
        if created:
            user.set_password("demo")
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
        users[username] = user
    return users


def seed_demo(context: dict) -> None:
    context["users"] = seed()

"""`issue_api_token` and `revoke_api_token` from the command line."""

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import ApiToken


@pytest.mark.django_db
class TestTokenCommands:
    def test_issue_prints_only_the_key_and_keeps_its_options(self, paul, capsys):
        call_command("issue_api_token", "paul", "--name", "sync", "--scope", "write")
        key = capsys.readouterr().out.strip()
        token = ApiToken.objects.get()
        assert token.key_hash == ApiToken.hash_key(key)
        assert (token.name, token.scope, token.user) == ("sync", "write", paul)
        assert token.expires_at is not None

    def test_issue_with_zero_days_never_expires(self, paul, capsys):
        call_command("issue_api_token", "paul", "--days", "0")
        assert ApiToken.objects.get().expires_at is None

    def test_issue_refuses_a_negative_expiry_and_unknown_users(self, paul):
        with pytest.raises(CommandError):
            call_command("issue_api_token", "paul", "--days", "-3")
        with pytest.raises(CommandError):
            call_command("issue_api_token", "nobody")
        assert not ApiToken.objects.exists()

    def test_revoke_by_prefix_by_id_or_by_whole_key(self, paul, capsys):
        first, _ = ApiToken.issue(user=paul, name="a")
        second, _ = ApiToken.issue(user=paul, name="b")
        third, key = ApiToken.issue(user=paul, name="c")
        call_command("revoke_api_token", first.key_prefix)
        call_command("revoke_api_token", str(second.pk))
        call_command("revoke_api_token", key)
        assert ApiToken.objects.active().count() == 0
        call_command("revoke_api_token", str(third.pk))
        assert "already revoked" in capsys.readouterr().out

    def test_revoke_refuses_what_matches_nothing(self, paul):
        with pytest.raises(CommandError):
            call_command("revoke_api_token", "aip_nothing")

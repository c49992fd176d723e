"""Operators' commands: createagent, banagent (purgetokens: test_auth_purge.py)."""

import re

import pytest
from django.core.management import CommandError, call_command

from handlers.auth.tokens import InvalidToken, check_token, issue_token
from handlers.models import AgentUser

pytestmark = pytest.mark.django_db


def test_createagent_with_name_and_password(capsys):
    call_command("createagent", "node-a", "--password", "chosen-password")
    assert capsys.readouterr().out.splitlines() == ["user-name: node-a", "password: chosen-password"]
    assert AgentUser.objects.get(name="node-a").check_password("chosen-password")


def test_createagent_generates_what_is_missing(capsys):
    call_command("createagent")
    name, password = re.fullmatch(
        r"user-name: (\S{8})\npassword: (\S{15})\n", capsys.readouterr().out
    ).groups()
    assert AgentUser.objects.get(name=name).check_password(password)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["taken"], "exists already"),
        (["short-one", "--password", "1234567"], "at least 8"),
        (["n" * 151], "1 to 150"),
    ],
)
def test_createagent_refuses_bad_input(args, message):
    call_command("createagent", "taken")
    with pytest.raises(CommandError, match=message):
        call_command("createagent", *args)


def test_banagent(capsys):
    call_command("createagent", "node-b")
    token = issue_token("node-b")
    assert check_token(token) == "node-b"
    call_command("banagent", "node-b")
    assert "banned agent user node-b" in capsys.readouterr().out
    assert not AgentUser.objects.get(name="node-b").is_active
    with pytest.raises(InvalidToken):
        check_token(token)
    with pytest.raises(CommandError, match="no agent user"):
        call_command("banagent", "nobody")

"""Passwords people may not choose (NIST SP 800-63B): each rule, through create_user and the API."""

import pytest

from huizhili.errors import ValidationError
from huizhili.identity.accounts import create_user


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short one", "at least 10 characters"),
        ("Wang.Xiaoming", "must not contain the username"),
        ("my wang.xiaoming key", "must not contain the username"),
        ("aaaaaaaaaa", "repetitive or sequential"),
        ("abababababab", "repetitive or sequential"),
        ("1234567890", "repetitive or sequential"),
        ("9876543210", "repetitive or sequential"),
        ("abcdefghij", "repetitive or sequential"),
        ("QWERTYUIOP", "repetitive or sequential"),
        ("huizhili2024!", "name of the platform or the district"),
        ("我的汇治理平台账号密码", "name of the platform or the district"),
        ("XuHui district", "name of the platform or the district"),
        ("basketball", "commonly used"),
        ("Password123", "commonly used"),
    ],
)
def test_weak_passwords_are_refused_with_the_rule_they_break(session, password, rule):
    with pytest.raises(ValidationError, match=rule) as refused:
        create_user(session, "wang.xiaoming", "citizen", password=password)
    assert password.lower() not in str(refused.value).lower()


def test_a_long_unusual_passphrase_is_accepted(session):
    user = create_user(session, "wang.xiaoming", "citizen", password="tea kettle over the canal")
    assert user.password_hash


def test_the_api_refuses_a_weak_password_without_echoing_it(client, role_headers):
    body = {"username": "li.na", "role": "analyst", "password": "qwertyuiop"}
    response = client.post("/api/users", json=body, headers=role_headers["district_admin"])
    assert response.status_code == 422
    assert "repetitive or sequential" in response.json()["detail"]
    assert "qwertyuiop" not in response.text

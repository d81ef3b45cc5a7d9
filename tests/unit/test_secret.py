"""Secret: never shown by repr, str, format or logging; compared in constant time."""

from __future__ import annotations

import dataclasses
import hmac
import logging
import pickle

import pytest

from tessera.secret import Secret

pytestmark = pytest.mark.unit

VALUE = "tok-very-secret-value"


@pytest.mark.parametrize("value", [VALUE, VALUE.encode(), "", b""])
def test_repr_and_str_hide_the_value(value: str | bytes) -> None:
    secret = Secret(value)  # type: ignore[type-var]
    assert repr(secret) == "Secret('****')"
    assert str(secret) == "Secret('****')"
    assert f"{secret}" == "Secret('****')"
    assert f"{secret!r}" == "Secret('****')"
    assert "%s %r" % (secret, secret) == "Secret('****') Secret('****')"  # noqa: UP031


def test_containers_and_dataclasses_do_not_show_the_value() -> None:
    @dataclasses.dataclass
    class Holder:
        token: Secret[str]

    assert VALUE not in repr([Secret(VALUE)])
    assert VALUE not in repr({"k": Secret(VALUE)})
    assert VALUE not in repr(Holder(Secret(VALUE)))


def test_logging_does_not_show_the_value(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("tessera.test").info("issued %s", Secret(VALUE))
        logging.getLogger("tessera.test").info("issued %r", {"token": Secret(VALUE)})
    assert VALUE not in caplog.text
    assert "Secret('****')" in caplog.text


def test_reveal_is_the_only_way_to_the_value() -> None:
    secret = Secret(VALUE)
    assert secret.reveal() == VALUE
    assert not hasattr(secret, "__dict__")
    assert VALUE not in dir(secret)


def test_an_exception_message_does_not_show_the_value() -> None:
    with pytest.raises(ValueError) as caught:
        raise ValueError(f"bad token {Secret(VALUE)}")
    assert VALUE not in str(caught.value)


def test_equality() -> None:
    assert Secret("a") == Secret("a")
    assert Secret(b"a") == Secret(b"a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != Secret("ab")
    assert Secret("é") == Secret("é")
    assert Secret("a") != Secret(b"a")  # str and bytes never match
    assert Secret("") == Secret("")


def test_a_secret_never_equals_its_plain_value() -> None:
    assert Secret("a") != "a"
    assert Secret("a") != "a"
    assert Secret(b"a") != b"a"
    assert Secret("a").__eq__("a") is NotImplemented


def test_equality_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # secret.py calls hmac.compare_digest
    assert Secret("abc") != Secret("abd")
    assert Secret(b"x") == Secret(b"x")
    assert calls == [(b"abc", b"abd"), (b"x", b"x")]


def test_hash_does_not_depend_on_the_value() -> None:
    """Equal secrets hash alike (as they must), and the hash leaks nothing about the value."""
    assert hash(Secret("a")) == hash(Secret("b")) == hash(Secret(b"c"))
    assert len({Secret("a"), Secret("a"), Secret("b")}) == 2


def test_truthiness() -> None:
    assert Secret("x")
    assert not Secret("")
    assert not Secret(b"")


def test_pickle_round_trip_keeps_the_value_and_the_mask() -> None:
    copy = pickle.loads(pickle.dumps(Secret(VALUE)))
    assert copy.reveal() == VALUE
    assert repr(copy) == "Secret('****')"

"""SAML assertion checks: every AudienceRestriction, times with a time zone, computed condition keys win."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tessera.protocols.awssts import InvalidIdentityToken
from tessera.protocols.awssts.saml import saml_condition_keys
from tessera.protocols.awssts.saml_assertion import SamlAssertion, _time

pytestmark = pytest.mark.unit

AWS = "urn:amazon:webservices"
RECIPIENT = "https://signin.aws.amazon.com/saml"
ASSERTION = SamlAssertion(
    assertion_id="id-1",
    issuer="https://idp.test/metadata",
    subject="alice@idp.test",
    subject_type="persistent",
    name_qualifier="",
    audience_restrictions=((AWS,),),
    recipient=RECIPIENT,
    not_on_or_after=1_750_000_300.0,
)


@pytest.mark.parametrize(
    ("restrictions", "accepted", "addressed"),
    [
        (((AWS,),), [AWS], True),
        (((AWS,),), ["urn:example:other"], False),
        ((), [AWS], False),  # no restriction at all: not addressed to us
        (((),), [AWS], False),  # an empty restriction admits no one
        (((AWS,), ("urn:example:elsewhere",)), [AWS], False),  # every restriction must hold
        (((AWS,), ("urn:example:elsewhere",)), [AWS, "urn:example:elsewhere"], True),
        (((AWS, "urn:example:x"), ("urn:example:y", AWS)), [AWS], True),  # any audience within one
        ((("urn:example:x", "urn:example:y"),), [AWS], False),
    ],
)
def test_every_audience_restriction_must_name_an_accepted_audience(
    restrictions: tuple[tuple[str, ...], ...], accepted: list[str], addressed: bool
) -> None:
    assertion = replace(ASSERTION, audience_restrictions=restrictions)
    assert assertion.is_addressed_to(accepted) is addressed
    assert assertion.is_addressed_to([]) is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-15T12:00:00Z", datetime(2025, 6, 15, 12, tzinfo=UTC).timestamp()),
        ("2025-06-15T12:00:00.123Z", datetime(2025, 6, 15, 12, tzinfo=UTC).timestamp() + 0.123),
        ("2025-06-15T14:00:00+02:00", datetime(2025, 6, 15, 12, tzinfo=UTC).timestamp()),
        ("2025-06-15T12:00:00+00:00", datetime(2025, 6, 15, 12, tzinfo=UTC).timestamp()),
    ],
)
def test_times_with_a_time_zone_are_read_as_such(value: str, expected: float) -> None:
    assert _time(value, "NotOnOrAfter") == pytest.approx(expected)


@pytest.mark.parametrize("value", ["2025-06-15T12:00:00", "2025-06-15T12:00:00.5", "2025-06-15"])
def test_times_without_a_time_zone_are_refused(value: str) -> None:
    with pytest.raises(InvalidIdentityToken) as caught:
        _time(value, "NotOnOrAfter")
    assert "time zone" in caught.value.description


@pytest.mark.parametrize("value", [None, "", "yesterday", "2025-13-01T00:00:00Z"])
def test_unreadable_times_are_refused(value: str | None) -> None:
    with pytest.raises(InvalidIdentityToken) as caught:
        _time(value, "NotBefore")
    assert "invalid NotBefore" in caught.value.description


def test_computed_keys_win_over_attributes_of_the_same_name() -> None:
    assertion = replace(
        ASSERTION,
        attributes={
            "sub": ("mallory@idp.test",),
            "AUD": ("urn:example:forged",),
            "Iss": ("https://evil.test",),
            "sub_type": ("transient",),
            "doc": ("999999999999/Evil",),
            "namequalifier": ("forged",),
            "eduPersonAffiliation": ("staff", "member"),
            "mail": ("alice@example.com",),
            "https://aws.amazon.com/SAML/Attributes/RoleSessionName": ("alice",),
            "urn:oid:0.9.2342.19200300.100.1.3": ("alice@example.com",),
        },
    )
    keys = saml_condition_keys(assertion, "123456789012", "TestIdP", "qualifier-1")
    assert keys["saml:sub"] == "alice@idp.test"
    assert keys["saml:aud"] == RECIPIENT
    assert keys["saml:iss"] == "https://idp.test/metadata"
    assert keys["saml:sub_type"] == "persistent"
    assert keys["saml:doc"] == "123456789012/TestIdP"
    assert keys["saml:namequalifier"] == "qualifier-1"
    # Attributes with plain names are condition keys (lower-cased), the others are not.
    assert keys["saml:edupersonaffiliation"] == ("staff", "member")
    assert keys["saml:mail"] == "alice@example.com"
    assert not [k for k in keys if k != k.lower()]  # one spelling per key: no "saml:AUD" beside "saml:aud"
    assert not [k for k in keys if "/" in k or k.count(":") > 1]

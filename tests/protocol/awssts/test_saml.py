"""AssumeRoleWithSAML with assertions signed by a real SAML IdP (pysaml2, which signs with xmlsec1)."""

from __future__ import annotations

import base64
import copy
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from support.awssts import ACCOUNT, error_of, session_key, sts_client, sts_tenant
from support.live_server import LiveServer
from tessera.clock import FixedClock

pytestmark = pytest.mark.protocol

SP_METADATA = """<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
 entityID="urn:amazon:webservices">
<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:AssertionConsumerService index="1" isDefault="true" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
 Location="https://signin.aws.amazon.com/saml"/></md:SPSSODescriptor></md:EntityDescriptor>"""
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SamlRole"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/TestIdP"
STRICT = f"arn:aws:iam::{ACCOUNT}:saml-provider/StrictIdP"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"


def _key_and_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / f"{name}.key", folder / f"{name}.crt"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class SamlIdp:
    """A pysaml2 identity provider issuing unsolicited responses for the AWS service provider."""

    def __init__(self, folder: Path, name: str = "idp") -> None:
        from saml2 import BINDING_HTTP_POST
        from saml2.config import IdPConfig
        from saml2.saml import NAMEID_FORMAT_PERSISTENT
        from saml2.server import Server

        folder.mkdir(parents=True, exist_ok=True)
        self.key_file, self.cert_file = _key_and_certificate(folder, name)
        config = IdPConfig()
        config.load(
            {
                "entityid": f"https://{name}.test/metadata",
                "key_file": str(self.key_file),
                "cert_file": str(self.cert_file),
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "metadata": {"inline": [SP_METADATA]},
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": [(f"https://{name}.test/sso", BINDING_HTTP_POST)]},
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": 15},
                                "attribute_restrictions": None,
                                "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                            }
                        },
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    }
                },
            }
        )
        self.server = Server(config=config)

    def response(
        self, pairs: list[str], *, session_name: str = "alice", sign_assertion: bool = True, sign_response: bool = False
    ) -> str:
        from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID

        identity = {
            "https://aws.amazon.com/SAML/Attributes/Role": pairs,
            "https://aws.amazon.com/SAML/Attributes/RoleSessionName": [session_name],
            "https://aws.amazon.com/SAML/Attributes/PrincipalTag:department": ["finance"],
        }
        response = self.server.create_authn_response(
            identity=identity,
            in_response_to="unsolicited",
            destination="https://signin.aws.amazon.com/saml",
            sp_entity_id="urn:amazon:webservices",
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=f"{session_name}@idp.test"),
            sign_assertion=sign_assertion,
            sign_response=sign_response,
            sign_alg=RSA_SHA256,
            digest_alg=SHA256,
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password", "authn_auth": "https://idp.test"},
        )
        return base64.b64encode(str(response).encode()).decode()


@pytest.fixture
def idp(tmp_path: Path) -> SamlIdp:
    return SamlIdp(tmp_path / "idp")


def saml_tenant(idp: SamlIdp, **overrides: Any) -> dict[str, Any]:
    certificate = idp.cert_file.read_text()
    providers = [
        {"name": "TestIdP", "certificate_files": [str(idp.cert_file)]},
        {"name": "StrictIdP", "certificates": [certificate], "audiences": ["urn:example:elsewhere"]},
    ]
    tenant = sts_tenant(saml_providers=providers)
    trusted = {
        "Effect": "Allow",
        "Principal": {"Federated": [PROVIDER, STRICT]},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
        "Condition": {"StringEquals": {"saml:aud": "https://signin.aws.amazon.com/saml"}},
    }
    tenant["aws"]["roles"].append(
        {"name": "SamlRole", "trust_policy": {"Version": "2012-10-17", "Statement": [trusted]}}
    )
    return {**tenant, **overrides}


@pytest.fixture
def saml_server(start_server: Callable[..., LiveServer], idp: SamlIdp) -> LiveServer:
    return start_server(tenants=[saml_tenant(idp)])


def anonymous(server: LiveServer) -> Any:
    return boto3.client(
        "sts", endpoint_url=server.base_url, region_name="us-east-1", config=Config(signature_version=UNSIGNED)
    )


def saml_error(server: LiveServer, assertion: str, principal: str = PROVIDER) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        anonymous(server).assume_role_with_saml(RoleArn=ROLE, PrincipalArn=principal, SAMLAssertion=assertion)
    return error_of(caught.value)


def test_a_signed_assertion_gives_role_credentials(saml_server: LiveServer, idp: SamlIdp) -> None:
    assertion = idp.response([f"{ROLE},{PROVIDER}"])
    response = anonymous(saml_server).assume_role_with_saml(
        RoleArn=ROLE, PrincipalArn=PROVIDER, SAMLAssertion=assertion
    )
    temporary = session_key(saml_server, response)
    assert response["Subject"] == "alice@idp.test"
    assert response["SubjectType"] == "persistent"
    assert response["Issuer"] == "https://idp.test/metadata"
    assert response["Audience"] == "https://signin.aws.amazon.com/saml"
    assert response["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/SamlRole/alice"
    assert sts_client(saml_server, temporary).get_caller_identity()["Arn"].endswith("assumed-role/SamlRole/alice")
    # A signed Response (instead of a signed Assertion) works too, with the provider ARN first in the pair.
    signed_response = idp.response([f"{PROVIDER},{ROLE}"], sign_assertion=False, sign_response=True)
    session_key(
        saml_server,
        anonymous(saml_server).assume_role_with_saml(
            RoleArn=ROLE, PrincipalArn=PROVIDER, SAMLAssertion=signed_response
        ),
    )


def test_unsigned_and_untrusted_assertions_are_invalid_identity_tokens(
    saml_server: LiveServer, idp: SamlIdp, tmp_path: Path
) -> None:
    unsigned = idp.response([f"{ROLE},{PROVIDER}"], sign_assertion=False)
    assert saml_error(saml_server, unsigned) == ("InvalidIdentityToken", 400)
    stranger = SamlIdp(tmp_path / "stranger", "stranger")
    assert saml_error(saml_server, stranger.response([f"{ROLE},{PROVIDER}"])) == ("InvalidIdentityToken", 400)
    assert saml_error(saml_server, base64.b64encode(b"<not-xml").decode()) == ("InvalidIdentityToken", 400)
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>'
    assert saml_error(saml_server, base64.b64encode(bomb).decode()) == ("InvalidIdentityToken", 400)


def _document(assertion: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(assertion))


def _encoded(root: etree._Element) -> str:
    return base64.b64encode(etree.tostring(root)).decode()


def test_signature_wrapping_is_refused(saml_server: LiveServer, idp: SamlIdp) -> None:
    signed = idp.response([f"{ROLE},{PROVIDER}"], session_name="alice")
    # 1. An unsigned forged assertion next to the signed one.
    root = _document(signed)
    original = root.find(f"{{{SAML}}}Assertion")
    assert original is not None
    forged = copy.deepcopy(original)
    forged.remove(forged.find(f"{{{DS}}}Signature"))
    forged.set("ID", "forged-1")
    forged.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID").text = "mallory@idp.test"  # type: ignore[union-attr]
    original.addprevious(forged)
    assert saml_error(saml_server, _encoded(root)) == ("InvalidIdentityToken", 400)
    # 2. The classic wrapping: a forged assertion carries the signature; the signed original hides inside it.
    root = _document(signed)
    original = root.find(f"{{{SAML}}}Assertion")
    assert original is not None
    forged = copy.deepcopy(original)
    forged.set("ID", "forged-2")
    forged.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID").text = "mallory@idp.test"  # type: ignore[union-attr]
    root.replace(original, forged)
    signature = original.find(f"{{{DS}}}Signature")
    assert signature is not None
    original.remove(signature)
    forged.find(f"{{{DS}}}Signature").addnext(original)  # type: ignore[union-attr]
    assert saml_error(saml_server, _encoded(root)) == ("InvalidIdentityToken", 400)
    # 3. A signed assertion whose content was changed afterwards.
    root = _document(signed)
    root.find(f"{{{SAML}}}Assertion/{{{SAML}}}Subject/{{{SAML}}}NameID").text = "mallory@idp.test"  # type: ignore[union-attr]
    assert saml_error(saml_server, _encoded(root)) == ("InvalidIdentityToken", 400)


def test_wrong_audience_missing_role_and_expiry(
    saml_server: LiveServer, idp: SamlIdp, start_server: Callable[..., LiveServer]
) -> None:
    assert saml_error(saml_server, idp.response([f"{ROLE},{STRICT}"]), STRICT) == ("IDPRejectedClaim", 403)
    other_role = f"arn:aws:iam::{ACCOUNT}:role/MyRole"
    assert saml_error(saml_server, idp.response([f"{other_role},{PROVIDER}"])) == ("AccessDenied", 403)
    later = start_server(
        clock=FixedClock(datetime.datetime.now(datetime.UTC).timestamp() + 3600), tenants=[saml_tenant(idp)]
    )
    assert saml_error(later, idp.response([f"{ROLE},{PROVIDER}"])) == ("ExpiredTokenException", 400)


def signed_by(
    idp: SamlIdp, mutate: Callable[[etree._Element], None], pairs: list[str] | None = None, session_name: str = "alice"
) -> str:
    """An assertion of ``idp`` changed by ``mutate`` and only then signed, with the IdP's key (signxml)."""
    from signxml.signer import XMLSigner

    unsigned = idp.response(pairs or [f"{ROLE},{PROVIDER}"], session_name=session_name, sign_assertion=False)
    root = _document(unsigned)
    unsigned_assertion = root.find(f"{{{SAML}}}Assertion")
    assert unsigned_assertion is not None
    assertion = etree.fromstring(etree.tostring(unsigned_assertion))  # signed on its own, then put back
    mutate(assertion)
    issuer = assertion.find(f"{{{SAML}}}Issuer")
    assert issuer is not None
    # Where SAML's schema puts the signature; "ds", as the Response's own "ns0" is the protocol namespace.
    issuer.addnext(etree.Element(f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS}))
    signer = XMLSigner(
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    signed = signer.sign(
        assertion,
        key=idp.key_file.read_bytes(),
        cert=idp.cert_file.read_text(),
        reference_uri=assertion.get("ID"),
    )
    root.replace(unsigned_assertion, signed)
    return _encoded(root)


def assume_with_saml(server: LiveServer, assertion: str, role: str = ROLE, principal: str = PROVIDER) -> Any:
    response = anonymous(server).assume_role_with_saml(RoleArn=role, PrincipalArn=principal, SAMLAssertion=assertion)
    session_key(server, response)
    return response


def _conditions(assertion: etree._Element) -> etree._Element:
    conditions = assertion.find(f"{{{SAML}}}Conditions")
    assert conditions is not None
    return conditions


def _add_restriction(*audiences: str) -> Callable[[etree._Element], None]:
    def mutate(assertion: etree._Element) -> None:
        restriction = etree.SubElement(_conditions(assertion), f"{{{SAML}}}AudienceRestriction")
        for audience in audiences:
            etree.SubElement(restriction, f"{{{SAML}}}Audience").text = audience

    return mutate


def saml_refusal(server: LiveServer, assertion: str, principal: str = PROVIDER) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        anonymous(server).assume_role_with_saml(RoleArn=ROLE, PrincipalArn=principal, SAMLAssertion=assertion)
    code, status = error_of(caught.value)
    return code, status, str(caught.value.response["Error"]["Message"])


def saml_audit_events(server: LiveServer) -> list[Any]:
    from tessera.domain.audit import AuditQuery

    query = AuditQuery(action="sts.assume_role_with_saml", limit=1000)
    return [event for _, event in server.run(lambda: server.services.store.audit.search(query))]


def test_an_assertion_is_accepted_once(saml_server: LiveServer, idp: SamlIdp) -> None:
    assertion = idp.response([f"{ROLE},{PROVIDER}"])
    assume_with_saml(saml_server, assertion)
    replayed = ("InvalidIdentityToken", 400, "The SAML assertion has already been used")
    assert saml_refusal(saml_server, assertion) == replayed
    assert saml_refusal(saml_server, assertion) == replayed
    assume_with_saml(saml_server, idp.response([f"{ROLE},{PROVIDER}"]))  # a new assertion (a new ID) works
    events = saml_audit_events(saml_server)
    assert sorted((e.result, e.reason or "") for e in events) == [
        ("failure", "InvalidIdentityToken"),
        ("failure", "InvalidIdentityToken"),
        ("success", ""),
        ("success", ""),
    ]
    # Re-signed, the same assertion ID is still the same assertion.
    first_id = _document(assertion).find(f"{{{SAML}}}Assertion").get("ID")  # type: ignore[union-attr]
    same_id = signed_by(idp, lambda a: a.set("ID", str(first_id)))
    assert saml_refusal(saml_server, same_id) == replayed


def test_a_refused_request_does_not_spend_the_assertion(saml_server: LiveServer, idp: SamlIdp) -> None:
    other_role = f"arn:aws:iam::{ACCOUNT}:role/MyRole"  # its trust policy does not admit the SAML provider
    assertion = idp.response([f"{other_role},{PROVIDER}", f"{ROLE},{PROVIDER}"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        anonymous(saml_server).assume_role_with_saml(RoleArn=other_role, PrincipalArn=PROVIDER, SAMLAssertion=assertion)
    assert error_of(caught.value) == ("AccessDenied", 403)
    response = assume_with_saml(saml_server, assertion)
    assert response["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/SamlRole/alice"
    assert saml_refusal(saml_server, assertion)[2] == "The SAML assertion has already been used"


def test_concurrent_uses_of_one_assertion_yield_one_session(saml_server: LiveServer, idp: SamlIdp) -> None:
    from concurrent.futures import ThreadPoolExecutor

    assertion = idp.response([f"{ROLE},{PROVIDER}"])

    def attempt(_: int) -> str:
        try:
            assume_with_saml(saml_server, assertion)
        except botocore.exceptions.ClientError as exc:
            return error_of(exc)[0]
        return "ok"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(attempt, range(8)))
    assert outcomes == ["InvalidIdentityToken"] * 7 + ["ok"]


def test_every_audience_restriction_must_name_this_service_provider(saml_server: LiveServer, idp: SamlIdp) -> None:
    assume_with_saml(saml_server, signed_by(idp, lambda a: None))  # the re-signing itself is accepted
    elsewhere = signed_by(idp, _add_restriction("urn:example:elsewhere"))
    assert saml_refusal(saml_server, elsewhere) == (
        "IDPRejectedClaim",
        403,
        "The SAML assertion's Audience is not one this service provider accepts",
    )
    # StrictIdP accepts only urn:example:elsewhere: the first restriction (urn:amazon:webservices) fails it.
    strict = signed_by(idp, _add_restriction("urn:example:elsewhere"), pairs=[f"{ROLE},{STRICT}"])
    assert saml_error(saml_server, strict, STRICT) == ("IDPRejectedClaim", 403)
    # A restriction naming several audiences is satisfied by any one of them.
    either = signed_by(idp, _add_restriction("urn:example:other", "urn:amazon:webservices"))
    assume_with_saml(saml_server, either)

    def no_restriction(assertion: etree._Element) -> None:
        conditions = _conditions(assertion)
        for restriction in conditions.findall(f"{{{SAML}}}AudienceRestriction"):
            conditions.remove(restriction)

    assert saml_error(saml_server, signed_by(idp, no_restriction)) == ("IDPRejectedClaim", 403)


@pytest.mark.parametrize("where", ["Conditions/NotOnOrAfter", "Conditions/NotBefore", "Confirmation/NotOnOrAfter"])
def test_times_without_a_time_zone_are_refused(saml_server: LiveServer, idp: SamlIdp, where: str) -> None:
    element, attribute = where.split("/")

    def change(offset: str) -> Callable[[etree._Element], None]:
        def mutate(assertion: etree._Element) -> None:
            if element == "Conditions":
                target = _conditions(assertion)
            else:
                found = assertion.find(
                    f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation/{{{SAML}}}SubjectConfirmationData"
                )
                assert found is not None
                target = found
            value = target.get(attribute)
            assert value is not None
            assert value.endswith("Z")
            target.set(attribute, value.removesuffix("Z") + offset)

        return mutate

    code, status, message = saml_refusal(saml_server, signed_by(idp, change("")))
    assert (code, status) == ("InvalidIdentityToken", 400)
    assert f"{attribute} has no time zone" in message
    assume_with_saml(saml_server, signed_by(idp, change("+00:00")))  # an explicit offset is a time zone


def test_attributes_named_like_computed_keys_do_not_override_them(
    start_server: Callable[..., LiveServer], idp: SamlIdp
) -> None:
    tenant = saml_tenant(idp)
    only_mallory = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
        "Condition": {
            "StringEquals": {"saml:sub": "mallory@idp.test", "saml:aud": "https://signin.aws.amazon.com/saml"}
        },
    }
    tenant["aws"]["roles"].append(
        {"name": "MalloryRole", "trust_policy": {"Version": "2012-10-17", "Statement": [only_mallory]}}
    )
    server = start_server(tenants=[tenant])
    mallory_role = f"arn:aws:iam::{ACCOUNT}:role/MalloryRole"
    pairs = [f"{mallory_role},{PROVIDER}"]

    def claim(name: str, value: str) -> Callable[[etree._Element], None]:
        def mutate(assertion: etree._Element) -> None:
            statement = assertion.find(f"{{{SAML}}}AttributeStatement")
            assert statement is not None
            attribute = etree.SubElement(statement, f"{{{SAML}}}Attribute", Name=name)
            etree.SubElement(attribute, f"{{{SAML}}}AttributeValue").text = value

        return mutate

    for name, value in (("sub", "mallory@idp.test"), ("SUB", "mallory@idp.test")):
        forged = signed_by(idp, claim(name, value), pairs=pairs)  # alice's assertion, with a "sub" attribute
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            anonymous(server).assume_role_with_saml(RoleArn=mallory_role, PrincipalArn=PROVIDER, SAMLAssertion=forged)
        assert error_of(caught.value) == ("AccessDenied", 403), name
    # Mallory's own assertion passes, even with an "aud" attribute: saml:aud stays the Recipient.
    own = signed_by(idp, claim("aud", "urn:example:x"), pairs=pairs, session_name="mallory")
    response = assume_with_saml(server, own, role=mallory_role)
    assert response["Subject"] == "mallory@idp.test"

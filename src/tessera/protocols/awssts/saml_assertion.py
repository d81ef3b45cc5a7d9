"""Verify a SAML 2.0 Response for AssumeRoleWithSAML (SAML Core §2.3, §3.2.2; XML-DSig; IAM SAML assertions).

Hardening, in order:

* the XML is parsed once, by lxml with entity resolution, DTD loading and network access off; a
  document with a DOCTYPE is refused outright (no entities, no expansion bombs);
* the Response must hold exactly one ``saml:Assertion`` (encrypted assertions are refused) and
  either the Response or that Assertion must carry an enveloped ``ds:Signature`` as a direct child;
* the signature is verified by signxml against the provider's certificates only (a certificate
  inside ``KeyInfo`` is never trusted), with SHA-1 refused and exactly one reference;
* everything read afterwards comes from signxml's ``signed_xml``: the canonical bytes that were
  digested, parsed again. An unsigned assertion next to a signed one, or a signed one moved
  elsewhere in the document (signature wrapping), can therefore not be what is read.

Then the assertion's ID, Issuer, Conditions (NotBefore/NotOnOrAfter, AudienceRestriction), the
bearer SubjectConfirmationData (Recipient, NotOnOrAfter) and the attributes are read. Each
AudienceRestriction is kept apart: SAML Core §2.5.1.4 requires every one of them to be satisfied
(the caller checks). Times are xs:dateTime in UTC (SAML Core §1.3.3); one without a time zone is
refused rather than read in the server's local time.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from lxml import etree
from signxml.exceptions import InvalidInput, InvalidSignature, SignXMLException
from signxml.verifier import SignatureConfiguration, XMLVerifier

from tessera.protocols.awssts.errors import ExpiredTokenException, IDPRejectedClaim, InvalidIdentityToken

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC_ASSERTION = f"{{{SAML}}}EncryptedAssertion"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
MAX_XML_BYTES = 100_000
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False, remove_pis=True
)
_CONFIG = SignatureConfiguration(location="./", expect_references=1)


@dataclass(frozen=True, slots=True)
class SamlAssertion:
    """What a verified assertion says."""

    assertion_id: str
    issuer: str
    subject: str
    subject_type: str
    name_qualifier: str
    audience_restrictions: tuple[tuple[str, ...], ...]  # one tuple per AudienceRestriction, all must hold
    recipient: str
    not_on_or_after: float
    attributes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def attribute(self, name: str) -> tuple[str, ...]:
        return self.attributes.get(name, ())

    def is_addressed_to(self, accepted: Sequence[str]) -> bool:
        """At least one restriction, and each names one of ``accepted`` (SAML Core §2.5.1.4)."""
        wanted = set(accepted)
        return bool(self.audience_restrictions) and all(wanted & set(r) for r in self.audience_restrictions)


def verify_saml_response(
    encoded: str, certificates: Sequence[x509.Certificate], now: float, skew: float
) -> SamlAssertion:
    """Decode, verify and read a base64 SAML Response; raise the STS error its flaw deserves."""
    root = _parse(_decode(encoded))
    if root.tag != f"{{{SAMLP}}}Response":
        raise InvalidIdentityToken("The SAML document is not a samlp:Response")
    _check_status(root)
    assertion = _signed_assertion(root, certificates)
    return _read(assertion, now, skew)


def _decode(encoded: str) -> bytes:
    try:
        raw = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidIdentityToken("The SAMLAssertion is not base64") from None
    if len(raw) > MAX_XML_BYTES:
        raise InvalidIdentityToken("The SAML response is too large")
    return raw


def _parse(xml: bytes) -> etree._Element:
    if b"<!DOCTYPE" in xml.upper() or b"<!ENTITY" in xml.upper():
        raise InvalidIdentityToken("The SAML response must not contain a DOCTYPE")
    try:
        root = etree.fromstring(xml, parser=_PARSER)
    except etree.XMLSyntaxError:
        raise InvalidIdentityToken("The SAML response is not well-formed XML") from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise InvalidIdentityToken("The SAML response must not contain a DOCTYPE")
    if any(True for _ in root.iter(etree.Entity)):
        raise InvalidIdentityToken("The SAML response must not contain entities")
    return root


def _check_status(root: etree._Element) -> None:
    code = root.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    if code is None or code.get("Value") != SUCCESS:
        raise InvalidIdentityToken("The SAML response does not report success")


def _children(element: etree._Element, tag: str) -> list[etree._Element]:
    return [child for child in element if child.tag == tag]


def _signed_assertion(root: etree._Element, certificates: Sequence[x509.Certificate]) -> etree._Element:
    if _children(root, XENC_ASSERTION):
        raise InvalidIdentityToken("Encrypted SAML assertions are not supported")
    assertions = _children(root, f"{{{SAML}}}Assertion")
    if len(assertions) != 1:
        raise InvalidIdentityToken("The SAML response must contain exactly one assertion")
    if _children(root, f"{{{DS}}}Signature"):
        signed = _verify(root, certificates, f"{{{SAMLP}}}Response")
        inner = _children(signed, f"{{{SAML}}}Assertion")
        if len(inner) != 1:
            raise InvalidIdentityToken("The signed SAML response must contain exactly one assertion")
        return inner[0]
    if not _children(assertions[0], f"{{{DS}}}Signature"):
        raise InvalidIdentityToken("The SAML response is not signed")
    return _verify(assertions[0], certificates, f"{{{SAML}}}Assertion")


def _verify(element: etree._Element, certificates: Sequence[x509.Certificate], tag: str) -> etree._Element:
    for certificate in certificates:
        try:
            result = XMLVerifier().verify(element, x509_cert=certificate, expect_config=_CONFIG)
        except (InvalidSignature, InvalidInput, SignXMLException, etree.XMLSyntaxError, ValueError):
            continue
        signed: etree._Element | None = getattr(result, "signed_xml", None)
        if signed is None or signed.tag != tag or signed.get("ID") != element.get("ID"):
            raise InvalidIdentityToken("The SAML signature does not cover the element it is attached to")
        return signed
    raise InvalidIdentityToken("The SAML signature is not valid for any certificate of the identity provider")


def _read(assertion: etree._Element, now: float, skew: float) -> SamlAssertion:
    assertion_id = assertion.get("ID") or ""
    if not assertion_id.strip():
        raise InvalidIdentityToken("The SAML assertion has no ID")
    issuer = _text(assertion.find(f"{{{SAML}}}Issuer"))
    name_id = assertion.find(f"{{{SAML}}}Subject/{{{SAML}}}NameID")
    if name_id is None or not _text(name_id):
        raise IDPRejectedClaim("The SAML assertion has no Subject NameID")
    conditions = assertion.find(f"{{{SAML}}}Conditions")
    not_on_or_after = _check_window(conditions, now, skew)
    confirmation = _bearer_confirmation(assertion, now, skew)
    restrictions = tuple(
        tuple(_text(a) for a in restriction.iterfind(f"{{{SAML}}}Audience"))
        for restriction in assertion.iterfind(f"{{{SAML}}}Conditions/{{{SAML}}}AudienceRestriction")
    )
    return SamlAssertion(
        assertion_id=assertion_id,
        issuer=issuer,
        subject=_text(name_id),
        subject_type=_short_format(name_id.get("Format", "")),
        name_qualifier=name_id.get("NameQualifier", ""),
        audience_restrictions=restrictions,
        recipient=confirmation.get("Recipient", ""),
        not_on_or_after=min(not_on_or_after, _time(confirmation.get("NotOnOrAfter"), "NotOnOrAfter")),
        attributes=_attributes(assertion),
    )


def _check_window(conditions: etree._Element | None, now: float, skew: float) -> float:
    if conditions is None or conditions.get("NotOnOrAfter") is None:
        raise IDPRejectedClaim("The SAML assertion has no Conditions NotOnOrAfter")
    not_before = conditions.get("NotBefore")
    if not_before is not None and _time(not_before, "NotBefore") - skew > now:
        raise IDPRejectedClaim("The SAML assertion is not valid yet")
    end = _time(conditions.get("NotOnOrAfter"), "NotOnOrAfter")
    if end + skew <= now:
        raise ExpiredTokenException("The SAML assertion has expired")
    return end


def _bearer_confirmation(assertion: etree._Element, now: float, skew: float) -> etree._Element:
    for confirmation in assertion.iterfind(f"{{{SAML}}}Subject/{{{SAML}}}SubjectConfirmation"):
        data = confirmation.find(f"{{{SAML}}}SubjectConfirmationData")
        if confirmation.get("Method") != BEARER or data is None:
            continue
        if data.get("NotOnOrAfter") is None:
            raise IDPRejectedClaim("The SAML bearer confirmation has no NotOnOrAfter")
        if _time(data.get("NotOnOrAfter"), "NotOnOrAfter") + skew <= now:
            raise ExpiredTokenException("The SAML assertion has expired")
        return data
    raise IDPRejectedClaim("The SAML assertion has no bearer SubjectConfirmation")


def _attributes(assertion: etree._Element) -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for attribute in assertion.iterfind(f"{{{SAML}}}AttributeStatement/{{{SAML}}}Attribute"):
        name = attribute.get("Name", "")
        found.setdefault(name, []).extend(_text(v) for v in attribute.iterfind(f"{{{SAML}}}AttributeValue"))
    return {name: tuple(values) for name, values in found.items()}


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _time(value: str | None, what: str) -> float:
    """An xs:dateTime with its time zone (SAML requires UTC, ``...Z``); never read as local time."""
    try:
        moment = datetime.fromisoformat(value or "")
    except ValueError:
        raise InvalidIdentityToken(f"The SAML assertion has an invalid {what}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidIdentityToken(f"The SAML assertion's {what} has no time zone (SAML times are UTC)")
    return moment.timestamp()


def _short_format(name_format: str) -> str:
    """``urn:...:nameid-format:persistent`` → ``persistent`` (the saml:sub_type condition key)."""
    return name_format.rsplit(":", 1)[-1] if name_format else "unspecified"


__all__ = ["SamlAssertion", "verify_saml_response"]

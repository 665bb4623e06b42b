"""CAP documents for the tests and the benchmark: the two-language Vietnamese/English flood alert written for
them, a sender's key and self-signed certificate (made with cryptography), and signing with signxml as a
sender's system would. The OASIS specification's own examples are files in tests/data/cap/."""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

DATA = Path(__file__).resolve().parent.parent / "data" / "cap"
SENDER = "canhbao@kttv-hagiang.gov.vn"
OASIS = ("oasis_homeland_security.xml", "oasis_thunderstorm.xml", "oasis_earthquake_update.xml",
         "oasis_amber_multilingual.xml")

VI_DESC = "Mưa lớn kéo dài gây lũ quét trên suối Nậm Mu trong đêm nay. Nước dâng nhanh ở các bản ven suối."
VI_INSTR = "Người dân ven suối di chuyển ngay lên chỗ cao. Không qua ngầm tràn."
EN_DESC = "Prolonged heavy rain will cause flash floods on the Nam Mu stream tonight. Water is rising fast in " \
          "the villages along the stream."
EN_INSTR = "People living along the stream must move to high ground now. Do not cross flooded fords."


def oasis(name: str) -> bytes:
    """One of the specification's example alerts."""
    return (DATA / name).read_bytes()


def _offset(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone(dt.timedelta(hours=7))).replace(microsecond=0).isoformat()


def flood_alert(identifier: str | None = None, msg_type: str = "Alert", references: str = "",
                headline_vi: str = "Cảnh báo lũ quét khẩn cấp", headline_en: str = "Flash flood emergency warning",
                geocode: str = "02", area_desc: str = "",
                expires_in: dt.timedelta = dt.timedelta(hours=6), sender: str = SENDER, english: bool = True) -> bytes:
    """The two-language (vi-VN first, en-US) flood alert for the province's area `geocode` (VN-ADMIN)."""
    now = dt.datetime.now(dt.timezone.utc)
    ident = identifier or f"KTTV-HG-{uuid.uuid4().hex[:12]}"
    area = (f"<area><areaDesc>{area_desc or 'Tỉnh Hà Giang'}</areaDesc>"
            + (f"<geocode><valueName>VN-ADMIN</valueName><value>{geocode}</value></geocode>" if geocode else "")
            + "</area>")

    def info(lang, event, headline, desc, instr):
        return (f"<info><language>{lang}</language><category>Met</category><event>{event}</event>"
                "<urgency>Immediate</urgency><severity>Extreme</severity><certainty>Likely</certainty>"
                f"<expires>{_offset(now + expires_in)}</expires><senderName>Đài KTTV tỉnh Hà Giang</senderName>"
                f"<headline>{headline}</headline><description>{desc}</description>"
                f"<instruction>{instr}</instruction>{area}</info>")
    infos = info("vi-VN", "Lũ quét", headline_vi, VI_DESC, VI_INSTR)
    if english:
        infos += info("en-US", "Flash flood", headline_en, EN_DESC, EN_INSTR)
    refs = f"<references>{references}</references>" if references else ""
    doc = (f'<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
           f"<identifier>{ident}</identifier><sender>{sender}</sender><sent>{_offset(now)}</sent>"
           f"<status>Actual</status><msgType>{msg_type}</msgType><scope>Public</scope>{refs}{infos}</alert>")
    return doc.encode()


def reference_to(doc: bytes) -> str:
    """The `references` value naming this alert (sender,identifier,sent)."""
    root = etree.fromstring(doc)
    ns = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
    return ",".join(root.findtext(f"c:{n}", namespaces=ns) for n in ("sender", "identifier", "sent"))


class Signer:
    """A sender's RSA key and self-signed certificate; sign() makes an enveloped XML signature (RSA-SHA256)."""

    def __init__(self, name: str = "kttv-hagiang.gov.vn"):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=365))
                     .sign(self.key, hashes.SHA256()))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, doc: bytes) -> bytes:
        """The document with the sender's signature inside its alert element."""
        from signxml import XMLSigner, methods
        key = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
        signed = XMLSigner(method=methods.enveloped, signature_algorithm="rsa-sha256",
                           digest_algorithm="sha256").sign(etree.fromstring(doc), key=key, cert=self.pem)
        return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def schema() -> etree.XMLSchema:
    """The OASIS schema, loaded by the test itself from the shipped file."""
    return etree.XMLSchema(etree.parse(str(Path(__file__).resolve().parents[2] / "media_pipeline" / "data" /
                                           "CAP-v1.2.xsd")))

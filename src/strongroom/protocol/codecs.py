"""One codec per served service, chosen by the model's protocol.

::

    codec = codec_for(load_service_model("kms"))
    params = codec.parse("Encrypt", request)          # validated, plain Python
    response = codec.serialize("Encrypt", result, request_id)
    response = codec.serialize_error(err, request_id, "Encrypt")
"""

from __future__ import annotations

from botocore.model import ServiceModel

from strongroom.protocol.base import BaseCodec
from strongroom.protocol.codec import ServiceCodec
from strongroom.protocol.jsonrpc import JsonCodec
from strongroom.protocol.model import served_protocols
from strongroom.protocol.query import QueryCodec
from strongroom.protocol.rest import RestJsonCodec, RestXmlCodec
from strongroom.protocol.rpcv2 import RpcV2CborCodec

_CODECS: dict[str, type[BaseCodec]] = {
    "json": JsonCodec,
    "query": QueryCodec,
    "rest-json": RestJsonCodec,
    "rest-xml": RestXmlCodec,
    "smithy-rpc-v2-cbor": RpcV2CborCodec,
}


class UnsupportedProtocol(ValueError):
    pass


def codec_for(
    model: ServiceModel,
    validation_error_code: str | None = None,
    *,
    malformed_error_code: str | None = None,
    xml_root_names: dict[str, str] | None = None,
    eager: bool = False,
    protocol: str | None = None,
) -> ServiceCodec:
    """The codec of `model`'s protocol.

    validation_error_code: the code of input validation failures; defaults to
        ``ValidationException`` (json, rest-json), ``ValidationError`` (query)
        and ``InvalidArgument`` (rest-xml).
    malformed_error_code: the code of a body that cannot be read at all;
        defaults to ``SerializationException`` (json, rest-json),
        ``MalformedQueryString`` (query) and ``MalformedXML`` (rest-xml).
    xml_root_names: rest-xml only; operation name -> root element of its
        response body where the model does not name one (S3's
        ``ListObjectsV2`` -> ``ListBucketResult``). Defaults to ``<Op>Result``.
    eager: compile every operation's plans now instead of at first use.
    protocol: one of the model's protocols (default: the one clients pick,
        `served_protocols`' first).
    """
    if protocol is None:
        protocol = served_protocols(model)[0]
    cls = _CODECS.get(protocol or "")
    if cls is None:
        raise UnsupportedProtocol(f"{model.service_name}: protocol {protocol!r} is not supported")
    if cls is RestXmlCodec:
        codec: BaseCodec = RestXmlCodec(
            model, validation_error_code, malformed_error_code, xml_root_names=xml_root_names
        )
    else:
        codec = cls(model, validation_error_code, malformed_error_code)
    if eager:
        codec.prepare()
    return codec  # type: ignore[return-value]


__all__ = ["UnsupportedProtocol", "codec_for"]

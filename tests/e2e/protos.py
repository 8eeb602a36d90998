"""Protobuf message classes built at run time from field lists, with the protobuf
library itself (no protoc, no generated code): the tests encode remote_write 1.0 and
2.0 messages this way to check Osprey against a real protobuf encoding."""

from __future__ import annotations

from typing import Any

# (field name, number, type, repeated); type is a scalar name or another message's name.
Field = tuple[str, int, str, bool]

_SCALARS = {"string", "double", "int64", "int32", "uint32", "uint64"}


def message_classes(package: str, messages: dict[str, list[Field]]) -> dict[str, Any]:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name=f"{package}.e2e.proto", package=package, syntax="proto3")
    for name, fields in messages.items():
        m = fdp.message_type.add(name=name)
        for fname, number, ftype, repeated in fields:
            label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
            if ftype in _SCALARS:
                m.field.add(name=fname, number=number, type=getattr(F, f"TYPE_{ftype.upper()}"), label=label)
            else:
                m.field.add(name=fname, number=number, type=F.TYPE_MESSAGE, label=label, type_name=f".{package}.{ftype}")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}")) for name in messages}


# remote_write 1.0 (prometheus.WriteRequest), with exemplars; Histogram only with its count.
REMOTE_WRITE_V1: dict[str, list[Field]] = {
    "Label": [("name", 1, "string", False), ("value", 2, "string", False)],
    "Sample": [("value", 1, "double", False), ("timestamp", 2, "int64", False)],
    "Exemplar": [("labels", 1, "Label", True), ("value", 2, "double", False), ("timestamp", 3, "int64", False)],
    "Histogram": [("count_int", 1, "uint64", False), ("timestamp", 15, "int64", False)],
    "TimeSeries": [
        ("labels", 1, "Label", True),
        ("samples", 2, "Sample", True),
        ("exemplars", 3, "Exemplar", True),
        ("histograms", 4, "Histogram", True),
    ],
    "WriteRequest": [("timeseries", 1, "TimeSeries", True)],
}

# remote_write 2.0 (io.prometheus.write.v2.Request); Histogram only with its count.
REMOTE_WRITE_V2: dict[str, list[Field]] = {
    "Sample": [("value", 1, "double", False), ("timestamp", 2, "int64", False)],
    "Exemplar": [("labels_refs", 1, "uint32", True), ("value", 2, "double", False), ("timestamp", 3, "int64", False)],
    "Metadata": [("type", 1, "int32", False), ("help_ref", 3, "uint32", False), ("unit_ref", 4, "uint32", False)],
    "Histogram": [("count_int", 1, "uint64", False), ("timestamp", 15, "int64", False)],
    "TimeSeries": [
        ("labels_refs", 1, "uint32", True),
        ("samples", 2, "Sample", True),
        ("histograms", 3, "Histogram", True),
        ("exemplars", 4, "Exemplar", True),
        ("metadata", 5, "Metadata", False),
        ("created_timestamp", 6, "int64", False),
    ],
    "Request": [("symbols", 4, "string", True), ("timeseries", 5, "TimeSeries", True)],
}

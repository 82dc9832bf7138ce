"""The committed stubs match the protos, and the protos follow the project's conventions."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"
GENERATED = ROOT / "services" / "common" / "deskpilot" / "v1"
PROTO_DIR = PROTOS / "deskpilot" / "v1"
PROTO_FILES = sorted(str(p.relative_to(PROTOS)) for p in PROTO_DIR.glob("*.proto"))


def _protoc(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", str(PROTOS), *args, *PROTO_FILES],
        check=True,
        cwd=PROTOS,
    )


def test_generated_stubs_are_current(tmp_path: Path) -> None:
    _protoc(f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}")
    fresh = tmp_path / "deskpilot" / "v1"
    names = sorted(p.name for p in fresh.iterdir())
    committed = sorted(p.name for p in GENERATED.iterdir() if p.suffix in (".py", ".pyi"))
    committed.remove("__init__.py")
    assert names == committed, "run `make protos`: the set of generated files changed"
    _match, mismatch, errors = filecmp.cmpfiles(fresh, GENERATED, names, shallow=False)
    assert not mismatch and not errors, f"run `make protos`: stale stubs {mismatch + errors}"


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorSet:
    out = tmp_path_factory.mktemp("desc") / "set.pb"
    _protoc(f"--descriptor_set_out={out}", "--include_source_info")
    return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _commented_paths(file: descriptor_pb2.FileDescriptorProto) -> set[tuple[int, ...]]:
    return {
        tuple(loc.path) for loc in file.source_code_info.location if loc.leading_comments.strip()
    }


def _uncommented(file: descriptor_pb2.FileDescriptorProto) -> list[str]:
    """Names of messages, fields, enums, values, services and methods without a comment."""
    commented = _commented_paths(file)
    missing: list[str] = []

    def check(path: tuple[int, ...], name: str) -> None:
        if path not in commented:
            missing.append(name)

    def walk_enum(enum: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...]) -> None:
        check(path, enum.name)
        for i, value in enumerate(enum.value):
            check((*path, 2, i), f"{enum.name}.{value.name}")

    def walk_message(msg: descriptor_pb2.DescriptorProto, path: tuple[int, ...]) -> None:
        check(path, msg.name)
        for i, field in enumerate(msg.field):
            check((*path, 2, i), f"{msg.name}.{field.name}")
        for i, nested in enumerate(msg.nested_type):
            if not nested.options.map_entry:
                walk_message(nested, (*path, 3, i))
        for i, enum in enumerate(msg.enum_type):
            walk_enum(enum, (*path, 4, i))

    for i, msg in enumerate(file.message_type):
        walk_message(msg, (4, i))
    for i, enum in enumerate(file.enum_type):
        walk_enum(enum, (5, i))
    for i, service in enumerate(file.service):
        check((6, i), service.name)
        for j, method in enumerate(service.method):
            check((6, i, 2, j), f"{service.name}.{method.name}")
    return missing


def test_every_element_is_commented(descriptors: descriptor_pb2.FileDescriptorSet) -> None:
    missing = {f.name: _uncommented(f) for f in descriptors.file if f.name.startswith("deskpilot/")}
    assert not {k: v for k, v in missing.items() if v}


def test_enums_start_with_unspecified(descriptors: descriptor_pb2.FileDescriptorSet) -> None:
    bad = []
    for file in descriptors.file:
        if not file.name.startswith("deskpilot/"):
            continue
        for enum in file.enum_type:
            zero = enum.value[0]
            if zero.number != 0 or not zero.name.endswith("_UNSPECIFIED"):
                bad.append(enum.name)
    assert not bad


def test_each_rpc_has_its_own_request_and_response(
    descriptors: descriptor_pb2.FileDescriptorSet,
) -> None:
    seen: dict[str, str] = {}
    bad = []
    for file in descriptors.file:
        for service in file.service:
            for method in service.method:
                request = method.input_type.rsplit(".", 1)[-1]
                response = method.output_type.rsplit(".", 1)[-1]
                if request != f"{method.name}Request" or response != f"{method.name}Response":
                    bad.append(f"{service.name}.{method.name}")
                for message in (request, response):
                    if message in seen:
                        bad.append(f"{message} shared by {seen[message]} and {method.name}")
                    seen[message] = method.name
    assert not bad
    assert {f.package for f in descriptors.file if f.name.startswith("deskpilot/")} == {
        "deskpilot.v1"
    }

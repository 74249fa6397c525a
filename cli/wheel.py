"""Builds a Python wheel that carries a built `lifeguard` binary, so teams without Rust install the
command with pip:

    python3 cli/wheel.py BINARY OUT_DIR      # prints the wheel's path
    pip install OUT_DIR/lifeguard-<version>-py3-none-<platform>.whl

The wheel (PEP 427) holds the binary as a script (`lifeguard-<version>.data/scripts/lifeguard`,
which pip copies into the environment's bin/ as it is, executable) and its metadata. Its platform
tag is this machine's (`linux_x86_64`, `linux_aarch64`, ...): the binary is built here, against
this machine's C library. The version is the crate's (cli/Cargo.toml), the license the workspace's. Standard library only.
"""

import base64
import hashlib
import os
import re
import sys
import sysconfig
import zipfile

NAME = "lifeguard"
HERE = os.path.dirname(os.path.abspath(__file__))


def manifest_value(manifest, key):
    """The first `key = "value"` line's value in `manifest` (relative to the repository root)."""
    path = os.path.join(HERE, "..", manifest)
    with open(path, encoding="utf-8") as text:
        found = re.search(rf'^{key}\s*=\s*"([^"]+)"', text.read(), re.MULTILINE)
    if not found:
        sys.exit(f"wheel: {manifest} has no {key}")
    return found.group(1)


def platform_tag():
    """This machine's wheel platform tag, as pip computes it for a non-manylinux build."""
    return re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform())


def record_line(path, data):
    """One RECORD row: path, urlsafe base64 SHA-256 without padding, size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build(binary, out_dir):
    """Writes the wheel for `binary` into `out_dir`; returns its path."""
    version = manifest_value("cli/Cargo.toml", "version")
    tag = f"py3-none-{platform_tag()}"
    dist_info = f"{NAME}-{version}.dist-info"
    with open(binary, "rb") as built:
        executable = built.read()
    if not executable.startswith(b"\x7fELF"):
        sys.exit(f"wheel: {binary} is not an ELF executable")
    files = [
        (f"{NAME}-{version}.data/scripts/{NAME}", executable, 0o755),
        (f"{dist_info}/METADATA", (
            "Metadata-Version: 2.1\n"
            f"Name: {NAME}\n"
            f"Version: {version}\n"
            "Summary: The lifeguard command line: check files, probes, analysis and deployment "
            "planning for AWS SAM deployments guarded by the lifeguard hooks.\n"
            f"License: {manifest_value('Cargo.toml', 'license')}\n"
        ).encode(), 0o644),
        (f"{dist_info}/WHEEL", (
            "Wheel-Version: 1.0\n"
            "Generator: lifeguard cli/wheel.py\n"
            "Root-Is-Purelib: false\n"
            f"Tag: {tag}\n"
        ).encode(), 0o644),
    ]
    record = "\n".join([record_line(path, data) for path, data, _ in files] + [f"{dist_info}/RECORD,,"])
    files.append((f"{dist_info}/RECORD", (record + "\n").encode(), 0o644))
    os.makedirs(out_dir, exist_ok=True)
    wheel = os.path.join(out_dir, f"{NAME}-{version}-{tag}.whl")
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data, mode in files:
            entry = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return wheel


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python3 cli/wheel.py BINARY OUT_DIR")
    print(build(sys.argv[1], sys.argv[2]))

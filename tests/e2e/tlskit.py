"""Certificates for the TLS tests, made with the openssl command line: a CA, server
certificates for the names given, and a client certificate, all signed by the CA."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(d: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)


def make_ca(d: Path, name: str = "ca") -> None:
    openssl(d, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-days", "2", "-subj", f"/CN=osprey-test-{name}")


def make_cert(d: Path, name: str, ext: str, ca: str = "ca") -> None:
    """`name`.pem and `name`.key signed by `ca`, with the extensions `ext`."""
    (d / f"{name}.ext").write_text(ext)
    openssl(d, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}")
    openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")


def make_certificates(d: Path, server_names: str = "DNS:hook.test") -> None:
    """ca.pem; server.pem for `server_names` (subjectAltName syntax); client.pem."""
    make_ca(d)
    make_cert(d, "server", f"subjectAltName={server_names}\nextendedKeyUsage=serverAuth")
    make_cert(d, "client", "extendedKeyUsage=clientAuth")

"""Certificates for the TLS tests, made with the openssl command (Debian's OpenSSL 3.0).

Certs(folder) makes a test CA and, on demand, leaf certificates signed by it for given names
(subjectAltName DNS entries), with a validity window in the past or the future when asked (an
expired or a not-yet-valid certificate: `openssl ca -startdate/-enddate`, since `openssl x509`
of OpenSSL 3.0 has no -not_before/-not_after). Keys are P-256 EC keys: fast to make.
"""

import os
import subprocess
import textwrap

OPENSSL = "openssl"


def _run(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=30)


class Certs:
    def __init__(self, folder):
        self.dir = os.path.join(folder, "tls")
        os.makedirs(os.path.join(self.dir, "issued"), exist_ok=True)
        self.ca = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        with open(os.path.join(self.dir, "index.txt"), "w"):
            pass
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(self.dir, "ca.cnf"), "w") as f:
            f.write(textwrap.dedent("""\
                [ca]
                default_ca = test_ca
                [test_ca]
                dir = .
                database = ./index.txt
                new_certs_dir = ./issued
                serial = ./serial
                default_md = sha256
                policy = anything
                unique_subject = no
                copy_extensions = copy
                [anything]
                commonName = supplied
                """))
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", self.ca_key, "-out", self.ca, "-days", "30",
             "-subj", "/CN=kahttpd test CA", cwd=self.dir)

    def key(self, name):
        """A new private key (PEM) in the folder; returns its path."""
        path = os.path.join(self.dir, name + ".key")
        _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", path, cwd=self.dir)
        return path

    def leaf(self, name, names, start=None, end=None, key=None, chain=False):
        """A certificate for `names` (DNS), signed by the CA: (cert path, key path).
        start/end: "YYYYMMDDHHMMSSZ" validity bounds (default: now to 30 days). chain: the CA
        certificate is appended to the file (a chain, as SSLCertificateFile reads it)."""
        key = key or self.key(name)
        csr = os.path.join(self.dir, name + ".csr")
        cert = os.path.join(self.dir, name + ".pem")
        san = ",".join("DNS:" + n for n in names)
        _run("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + names[0],
             "-addext", "subjectAltName=" + san, cwd=self.dir)
        args = ["ca", "-batch", "-config", "ca.cnf", "-cert", self.ca, "-keyfile", self.ca_key,
                "-in", csr, "-out", cert, "-notext"]
        if start or end:
            args += ["-startdate", start or "20200101000000Z",
                     "-enddate", end or "20991231000000Z"]
        else:
            args += ["-days", "30"]
        _run(*args, cwd=self.dir)
        if chain:
            with open(self.ca) as f, open(cert, "a") as out:
                out.write(f.read())
        return cert, key

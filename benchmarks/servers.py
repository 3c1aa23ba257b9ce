#!/usr/bin/env python3
"""The benchmarked servers: their generated configurations and command lines, in one place.

Used by run.sh (through the `argv` command below), idle_memory.py and instructions.py, so every
part of the harness runs the same servers with the same tuning:

  kahttpd   Workers 1, KeepAlive On, MaxKeepAliveRequests 0, AddOutputFilterByType DEFLATE
            text/plain (DeflateCompressionLevel BENCH_GZIP_LEVEL)
  nginx     worker_processes 1, sendfile on, tcp_nopush on (BENCH_NGINX_TCP_NOPUSH),
            tcp_nodelay on, keepalive_requests 1000000, access_log off, gzip on for text/plain
            (gzip_comp_level BENCH_GZIP_LEVEL, gzip_min_length 256, gzip_vary on)
  h2o       num-threads 1, max-connections = descriptor limit, no access-log
            (h2o 2.2 has no sendfile: it always reads files into its own buffers)
  lighttpd  server.max-worker 0 (one process), network-backend sendfile, epoll,
            max-keep-alive-requests 65535 (its maximum: the setting is 16 bits), no mod_accesslog
  caddy     a Caddyfile: file_server, GOMAXPROCS=1, admin off, auto_https off, idle timeout =
            keep-alive timeout, no access log (runtime log at ERROR), encode gzip for
            text/plain (level BENCH_GZIP_LEVEL, minimum_length 256)
  apache    Apache httpd's event MPM in one child process (ServerLimit 1, StartServers 1,
            ThreadsPerChild BENCH_APACHE_THREADS (1024), AsyncRequestWorkerFactor so that the child
            takes as many connections as descriptors), KeepAlive On, MaxKeepAliveRequests 0,
            EnableSendfile On, EnableMMAP On, AllowOverride None, Options FollowSymLinks, no
            CustomLog; modules mpm_event, authz_core, mime, dir, filter and deflate
            (AddOutputFilterByType DEFLATE text/plain, DeflateCompressionLevel
            BENCH_GZIP_LEVEL), all loaded from /usr/lib/apache2/modules; Debian's
            /etc/apache2/apache2.conf is not read
  minimal   benchmarks/minimal/minimal_server.c: a fixed 1 KiB response, whatever the path

Access logs are off everywhere, unless BENCH_ACCESS_LOG=1 (access_log_on()): then each server
but minimal logs every request to WORK/access.log in Apache's combined format (Caddy: its JSON
lines), kahttpd with CustomLog (buffered per worker: 32 KiB or 1 s), nginx with the same
buffer (buffer=32k flush=1s), Apache with BufferedLogs On, h2o and lighttpd as they write.

TLS (the tls-* scenarios, make bench-tls; idle_memory.py --tls): given a TLS port, a certificate
and its key (tls=TlsFiles(...)), every server in TLS (all but minimal) also listens on that
port with TLS, with the same certificate and key, and with its own defaults for protocols,
ciphers, session tickets and session caches (benchmarks/README.md says what each does), but
for nginx's protocols:
  kahttpd   Listen 127.0.0.1:PORT https, <VirtualHost *> SSLEngine on, SSLCertificateFile,
            SSLCertificateKeyFile
  nginx     listen 127.0.0.1:PORT ssl in the same server block, ssl_certificate(_key),
            ssl_protocols TLSv1.2 TLSv1.3 (1.22's default stops at TLS 1.2)
  h2o       a second listen with ssl: certificate-file, key-file, ocsp-update-interval 0
            (no OCSP fetcher: a self-signed certificate has no responder, and no network)
  lighttpd  mod_openssl, $SERVER["socket"] == "127.0.0.1:PORT" { ssl.engine, ssl.pemfile,
            ssl.privkey }
  caddy     a second site, https://127.0.0.1:PORT, with tls CERT KEY
  apache    mod_ssl (no SSLSessionCache: mod_ssl's default, none), Listen PORT https, a
            <VirtualHost> with SSLEngine on, the certificate and key

scaling.py alone runs some of them with more than one worker (write_config's `workers`:
kahttpd's Workers, nginx's worker_processes, h2o's num-threads); everything else is as above.

All listen on 127.0.0.1 only, on a port chosen at run time: kahttpd and minimal bind port 0 and
print the port they got; the others get a port that was just free (free_port()), and the caller
retries with another one if the server cannot bind it. Each runs in the foreground as a child of
the caller, which stops it by PID. Standard library only.

  python3 benchmarks/servers.py argv NAME --work DIR --docroot DIR --port N --keepalive S \\
          --nofile N [--single-process] [--tls-port N --cert FILE --key FILE]
prints the command line (one argument per line) after writing NAME's configuration under DIR;
  python3 benchmarks/servers.py list GZIP|FORKS_WORKER|TLS|ALL|PEERS
prints one of the lists below (for run.sh);
  python3 benchmarks/servers.py make-cert DIR
writes DIR/cert.pem and DIR/key.pem, a self-signed ECDSA P-256 certificate for 127.0.0.1;
  python3 benchmarks/servers.py tls-probe PORT CAFILE
prints what a TLS client gets from 127.0.0.1:PORT as one JSON line: protocol, cipher, and
whether a second connection offering the first one's session resumed it.
"""
import argparse
import collections
import json
import os
import resource
import selectors
import shutil
import socket
import ssl
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL = ("kahttpd", "nginx", "h2o", "lighttpd", "caddy", "apache", "minimal")
PEERS = ("nginx", "h2o", "lighttpd", "caddy", "apache", "minimal")
# Servers that bind port 0 themselves and print "<name>: listening on 127.0.0.1:PORT".
PRINTS_PORT = ("kahttpd", "minimal")
# Servers whose connections are served by a child process of the one started (a master and one
# worker): ready once the child exists; memory is the child's.
FORKS_WORKER = ("nginx", "apache")
# Servers that compress on the fly for the gz-* scenarios (text/plain at BENCH_GZIP_LEVEL).
GZIP = ("kahttpd", "nginx", "caddy", "apache")
# Servers that also listen with TLS when given a certificate (the tls-* scenarios).
TLS = ("kahttpd", "nginx", "h2o", "lighttpd", "caddy", "apache")
APACHE_MODULES = "/usr/lib/apache2/modules"


def program(name):
    """The executable of a server (environment KAHTTPD, NGINX, H2O, LIGHTTPD, CADDY, APACHE,
    MINIMAL)."""
    defaults = {
        "kahttpd": os.path.join(ROOT, "build", "server", "kahttpd"),
        "nginx": shutil.which("nginx") or "/usr/sbin/nginx",
        "h2o": shutil.which("h2o") or "/usr/bin/h2o",
        "lighttpd": shutil.which("lighttpd") or "/usr/sbin/lighttpd",
        "caddy": shutil.which("caddy") or "/usr/bin/caddy",
        "apache": shutil.which("apache2") or "/usr/sbin/apache2",
        "minimal": os.path.join(ROOT, "build", "benchmarks", "minimal_server"),
    }
    return os.environ.get(name.upper(), defaults[name])


def version(name):
    """One line naming the server's version, or None."""
    cmd = {"nginx": ["-v"], "h2o": ["--version"], "lighttpd": ["-v"], "caddy": ["version"],
           "apache": ["-v"]}.get(name)
    if cmd is None:
        return None
    try:
        p = subprocess.run([program(name)] + cmd, capture_output=True, text=True, timeout=10)
        line = (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None
    # caddy prints its version alone ("2.6.2"); apache2 -v "Server version: Apache/2.4.71 ..."
    return line if name in line.lower() else f"{name} {line}"


def gzip_level():
    """The gzip level of every server that compresses (BENCH_GZIP_LEVEL, default 6: zlib's default,
    kahttpd's and Apache's; nginx's own default is 1)."""
    return int(os.environ.get("BENCH_GZIP_LEVEL", "6"))


def access_log_on():
    """BENCH_ACCESS_LOG=1: every server writes an access log to WORK/access.log in Apache's
    combined format (Caddy: its own JSON lines), buffered where the server can buffer it:
    kahttpd always buffers (32 KiB or one second, per worker), nginx gets the same (buffer=32k
    flush=1s), Apache BufferedLogs On; h2o and lighttpd write as they do by default. Off (no
    access log anywhere) unless set."""
    return os.environ.get("BENCH_ACCESS_LOG", "") not in ("", "0", "off")


# The TLS listener of a server: its port, and the PEM certificate and key every server shares.
TlsFiles = collections.namedtuple("TlsFiles", "port cert key")


def make_cert(directory):
    """A self-signed ECDSA P-256 certificate for 127.0.0.1 (and localhost), valid 30 days, made
    with the openssl command: (cert.pem, key.pem) in `directory`. The key is readable by its
    owner only; every server reads it before it drops privileges (nginx's master, Apache's
    parent, h2o before its switch to nobody)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-addext", "basicConstraints=critical,CA:FALSE",
                    "-addext", "keyUsage=critical,digitalSignature",
                    "-addext", "extendedKeyUsage=serverAuth"],
                   check=True, capture_output=True, timeout=30)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return cert, key


def tls_probe(port, cafile, timeout=5.0):
    """What Python's ssl client (OpenSSL's defaults, as wrk's) gets from 127.0.0.1:port: the
    protocol and cipher of a full handshake, the session's ticket lifetime, whether a second
    connection offering the first one's session resumed it, and whether the server sent a new
    ticket on that resumed connection (a TLS 1.3 server that does not leaves the client only
    the ticket it just used: wrk then makes every other handshake a full one)."""
    ctx = ssl.create_default_context(cafile=cafile)
    out = {}
    session = None
    ids = []
    for attempt in range(2):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s:
            s.sendall(b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Connection: close\r\n\r\n")
            data = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError):
                    break
                if not chunk:
                    break
                data += chunk
            session = s.session
            ids.append(session.id if session else None)
            if attempt == 0:
                out["protocol"] = s.version()
                out["cipher"] = s.cipher()[0]
                out["status_line"] = data.split(b"\r\n", 1)[0].decode("latin-1")
                out["ticket_lifetime_hint_s"] = session.ticket_lifetime_hint if session else None
            else:
                out["resumed"] = s.session_reused
                out["new_ticket_on_resumption"] = s.session_reused and ids[1] != ids[0]
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_config(name, work, docroot, port, keepalive_s, nofile, single_process=False,
                 tls=None, workers=1):
    """Writes NAME's configuration under `work` (created) and returns its command line.

    keepalive_s is the keep-alive idle timeout in seconds. single_process is for callgrind,
    which follows one process: nginx then runs without a master (master_process off), and h2o
    does not switch user. tls (a TlsFiles) adds a TLS listener on tls.port, besides the plain
    one on `port`, with that certificate and key (servers in TLS only). workers (1 everywhere
    but scaling.py) is kahttpd's Workers (also "auto"), nginx's worker_processes, h2o's
    num-threads, lighttpd's server.max-worker and Caddy's GOMAXPROCS; Apache and the minimal
    server run one only.
    """
    if tls is not None and name not in TLS:
        raise ValueError(f"{name} takes no part in the TLS scenarios")
    if workers != 1 and name in ("apache", "minimal"):
        raise ValueError(f"{name}: one worker only")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)  # nginx's worker and h2o run as nobody when started by root
    exe = program(name)
    if name == "kahttpd":
        conf = os.path.join(work, "kahttpd.conf")
        with open(conf, "w") as f:
            f.write(f"Listen 127.0.0.1:{port}\n"
                    f'DocumentRoot "{docroot}"\n'
                    "DirectoryIndex index.html\n"
                    f"Workers {workers}\n"
                    "KeepAlive On\n"
                    f"KeepAliveTimeout {keepalive_s}\n"
                    "MaxKeepAliveRequests 0\n"
                    "TypesConfig /etc/mime.types\n"
                    # Compression on the fly for the gz-* scenarios (only .txt is text/plain).
                    "AddOutputFilterByType DEFLATE text/plain\n"
                    f"DeflateCompressionLevel {gzip_level()}\n")
            # Extra directives for experiments, e.g. "EnableSendfile Off" (one per line, "\n"
            # or ";" between them).
            extra = os.environ.get("BENCH_KAHTTPD_DIRECTIVES", "")
            for line in extra.replace(";", "\n").splitlines():
                if line.strip():
                    f.write(line.strip() + "\n")
            if access_log_on():
                f.write(f'CustomLog "{work}/access.log" combined\n')
            if tls is not None:
                # Its own port (two Listen lines for 127.0.0.1:0 would be one address); the
                # vhost answers on both, and the https address makes SSLEngine on valid.
                f.write(f"Listen 127.0.0.1:{tls.port} https\n"
                        "<VirtualHost *>\n"
                        "    SSLEngine on\n"
                        f'    SSLCertificateFile "{tls.cert}"\n'
                        f'    SSLCertificateKeyFile "{tls.key}"\n'
                        "</VirtualHost>\n")
        return [exe, "-f", conf]
    if name == "nginx":
        nopush = os.environ.get("BENCH_NGINX_TCP_NOPUSH", "on")
        access_log = (f"access_log {work}/access.log combined buffer=32k flush=1s"
                      if access_log_on() else "access_log off")
        os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes {workers};
pid {work}/nginx.pid;
error_log {work}/error.log warn;
worker_rlimit_nofile {nofile};
events {{
    worker_connections {nofile - 32};
    use epoll;
}}
http {{
    {access_log};
    sendfile on;
    tcp_nopush {nopush};
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout {keepalive_s}s;
    server_tokens off;
    types {{
        text/html html;
        text/plain txt;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;
    gzip on;
    gzip_types text/plain;
    gzip_comp_level {gzip_level()};
    gzip_min_length 256;
    gzip_vary on;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
{nginx_tls(tls)}        root {docroot};
        index index.html;
    }}
}}
""")
        globals_ = "daemon off;" + (" master_process off;" if single_process else "")
        return [exe, "-p", work + "/", "-c", conf, "-e", os.path.join(work, "error.log"),
                "-g", globals_]
    if name == "h2o":
        conf = os.path.join(work, "h2o.conf")
        # Started by root, h2o switches to nobody; under callgrind (single_process) it stays
        # root, since callgrind reopens its output file, created by root, at exit.
        user = "user: root\n" if single_process and os.geteuid() == 0 else ""
        # h2o's default access-log format is Apache's combined.
        h2o_access_log = f"access-log: {work}/access.log\n" if access_log_on() else ""
        with open(conf, "w") as f:
            # http1-request-timeout is also the idle time allowed between keep-alive requests.
            f.write(f"""{user}num-threads: {workers}
max-connections: {nofile - 32}
http1-request-timeout: {keepalive_s}
error-log: {work}/error.log
{h2o_access_log}listen:
  host: 127.0.0.1
  port: {port}
{h2o_tls(tls)}hosts:
  default:
    paths:
      /:
        file.dir: {docroot}
        file.index: ['index.html']
""")
        return [exe, "-c", conf]
    if name == "lighttpd":
        conf = os.path.join(work, "lighttpd.conf")
        # lighttpd reserves two descriptors per connection (the socket and a file).
        with open(conf, "w") as f:
            f.write(f"""server.document-root = "{docroot}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{work}/error.log"
server.max-worker = {0 if workers == 1 else workers}
server.max-fds = {nofile}
server.max-connections = {nofile // 2}
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = {keepalive_s}
server.network-backend = "sendfile"
server.event-handler = "linux-sysepoll"
server.tag = "lighttpd"
index-file.names = ("index.html")
mimetype.assign = (".bin" => "application/octet-stream", ".html" => "text/html")
""")
            if access_log_on():
                # mod_accesslog's default format: Apache's combined, with %V (the host) for %l.
                f.write(f"""server.modules += ("mod_accesslog")
accesslog.filename = "{work}/access.log"
""")
            if tls is not None:
                f.write(f"""server.modules += ("mod_openssl")
$SERVER["socket"] == "127.0.0.1:{tls.port}" {{
    ssl.engine = "enable"
    ssl.pemfile = "{tls.cert}"
    ssl.privkey = "{tls.key}"
}}
""")
        return [exe, "-D", "-f", conf]
    if name == "caddy":
        return caddy_config(exe, work, docroot, port, keepalive_s, tls, workers)
    if name == "apache":
        return apache_config(exe, work, docroot, port, keepalive_s, nofile, single_process, tls)
    if name == "minimal":
        return [exe, str(port)]
    raise ValueError(f"unknown server {name}")


def nginx_tls(tls):
    """The TLS listen line and certificate of nginx's server block, and ssl_protocols TLSv1.2
    TLSv1.3: nginx 1.22's default stops at TLS 1.2 (TLS 1.3 is on by default from 1.23.4), and
    every other server here speaks TLS 1.3 by default. Its defaults otherwise:
    ssl_session_cache none, ssl_session_tickets on with keys made at start-up (a new ticket on
    every TLS 1.3 resumption), ssl_buffer_size 16k; sendfile is off on TLS connections."""
    if tls is None:
        return ""
    return (f"        listen 127.0.0.1:{tls.port} ssl;\n"
            f"        ssl_certificate {tls.cert};\n"
            f"        ssl_certificate_key {tls.key};\n"
            f"        ssl_protocols TLSv1.2 TLSv1.3;\n")


def h2o_tls(tls):
    """h2o's second listen, with TLS (its defaults otherwise: ssl-session-resumption mode all,
    i.e. its internal session cache and tickets with keys it makes and rotates itself).
    ocsp-update-interval 0: no OCSP stapling fetcher (no responder for a self-signed
    certificate, and no network here)."""
    if tls is None:
        return ""
    return (f"listen:\n"
            f"  host: 127.0.0.1\n"
            f"  port: {tls.port}\n"
            f"  ssl:\n"
            f"    certificate-file: {tls.cert}\n"
            f"    key-file: {tls.key}\n"
            f"    ocsp-update-interval: 0\n")


def caddy_config(exe, work, docroot, port, keepalive_s, tls=None, workers=1):
    """Caddy: one Go process; GOMAXPROCS=1 (what the pinning to one CPU would give it anyway)
    runs Go code on one thread at a time, as the others' single worker does. No admin endpoint,
    no automatic HTTPS, no access log (Caddy logs requests only with a `log` directive), its
    runtime log at ERROR; data (storage) and config in the work directory."""
    conf = os.path.join(work, "Caddyfile")
    site = f"""\tbind 127.0.0.1
\troot * {docroot}
\tencode {{
\t\tgzip {gzip_level()}
\t\tminimum_length 256
\t\tmatch {{
\t\t\theader Content-Type text/plain*
\t\t}}
\t}}
\tfile_server
""" + (f"\tlog {{\n\t\toutput file {work}/access.log\n\t}}\n" if access_log_on() else "")
    # Tabs, as `caddy fmt` writes it (else caddy warns that the file is not formatted).
    with open(conf, "w") as f:
        f.write(f"""{{
\tadmin off
\tauto_https off
\tstorage file_system {work}/data
\tgrace_period 1s
\tlog {{
\t\toutput stderr
\t\tlevel ERROR
\t}}
\tservers {{
\t\ttimeouts {{
\t\t\tidle {keepalive_s}s
\t\t}}
\t}}
}}

http://127.0.0.1:{port} {{
{site}}}
""")
        if tls is not None:
            # auto_https off leaves this site's TLS alone: only the automatic certificates and
            # redirects are off. Caddy's defaults otherwise: TLS 1.2 and 1.3, session tickets
            # with keys it makes and rotates itself (Go's crypto/tls: no session-id cache).
            f.write(f"""
https://127.0.0.1:{tls.port} {{
\ttls {tls.cert} {tls.key}
{site}}}
""")
    env = [f"GOMAXPROCS={workers}", f"XDG_CONFIG_HOME={work}/config", f"XDG_DATA_HOME={work}/data"]
    return ["env"] + env + [exe, "run", "--adapter", "caddyfile", "--config", conf]


def apache_threads():
    """Worker threads of Apache's one child (BENCH_APACHE_THREADS, default 1024). When every
    worker is busy, the event MPM's listener closes idle keep-alive connections so that their
    clients reconnect to another child; with one child that is a dropped connection (wrk: read
    errors). With a worker per connection of the largest scenario (ka-1k-c1000) that never
    happens; 256 threads lost a few hundred connections in most 1000-connection runs here, and
    the CPU time per request did not differ measurably between 256, 512 and 1024."""
    return int(os.environ.get("BENCH_APACHE_THREADS", "1024"))


def apache_config(exe, work, docroot, port, keepalive_s, nofile, single_process, tls=None):
    """Apache httpd, event MPM, one child process (the others' one worker) with a pool of
    threads, its own ServerRoot and configuration in the work directory (Debian's
    /etc/apache2/apache2.conf and its APACHE_* environment are not used). In the event MPM a
    keep-alive connection between requests waits in the listener thread, not in a worker, and
    the child stops accepting once it holds ThreadsPerChild + idle workers x
    AsyncRequestWorkerFactor connections: the factor is set so that the limit is the descriptor
    limit, as nginx's worker_connections and h2o's max-connections are."""
    # Under callgrind (single_process) 64 threads: the same instructions per request as 1024
    # (29,233 and 29,238 here), which valgrind starts 8 s faster (and its limit is 500 threads).
    threads = min(apache_threads(), 64) if single_process else apache_threads()
    factor = max(2, -(-(nofile - 32 - threads) // threads))
    mods = ["mpm_event", "authz_core", "mime", "dir", "filter", "deflate"]
    if tls is not None:
        mods += ["ssl"]
    conf = os.path.join(work, "apache.conf")
    # Started by root, Apache's child serves as nobody (Apache refuses to serve as root). Under
    # callgrind (-X: one process with the child's threads) instructions.py starts it as nobody.
    with open(conf, "w") as f:
        f.write(f"""ServerRoot "{work}"
DefaultRuntimeDir "{work}"
PidFile "{work}/apache.pid"
ErrorLog "{work}/error.log"
LogLevel warn
""" + "".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so\n" for m in mods)
                + f"""User nobody
Group nogroup
ServerName 127.0.0.1
ServerTokens Prod
Listen 127.0.0.1:{port}
ServerLimit 1
StartServers 1
ThreadLimit {threads}
ThreadsPerChild {threads}
MaxRequestWorkers {threads}
MinSpareThreads 1
MaxSpareThreads {threads + 1}
AsyncRequestWorkerFactor {factor}
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout {keepalive_s}
EnableSendfile On
EnableMMAP On
HostnameLookups Off
TypesConfig /etc/mime.types
DocumentRoot "{docroot}"
<Directory />
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
DirectoryIndex index.html
AddOutputFilterByType DEFLATE text/plain
DeflateCompressionLevel {gzip_level()}
""")
        if access_log_on():
            # mod_log_config is built into Debian's apache2.
            f.write(f"""LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" combined
CustomLog "{work}/access.log" combined
BufferedLogs On
""")
        if tls is not None:
            # mod_ssl's defaults otherwise: SSLSessionCache none, SSLSessionTickets on (keys
            # made at start-up), SSLProtocol all (TLS 1.2 and 1.3 with OpenSSL 3).
            f.write(f"""Listen 127.0.0.1:{tls.port} https
<VirtualHost 127.0.0.1:{tls.port}>
    SSLEngine on
    SSLCertificateFile "{tls.cert}"
    SSLCertificateKeyFile "{tls.key}"
</VirtualHost>
""")
    return [exe, "-f", conf, "-X" if single_process else "-DFOREGROUND"]


def descendants(pid):
    """pid's children, grandchildren ... (nginx: its workers)."""
    out = []
    queue = [pid]
    while queue:
        p = queue.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        out += kids
        queue += kids
    return out


def serving_pid(name, pid):
    """The process whose memory holds the connections: nginx's or Apache's worker process, else
    the server."""
    if name in FORKS_WORKER:
        kids = descendants(pid)
        if kids:
            return kids[0]
    return pid


class Failure(Exception):
    pass


def logger(prefix):
    """A script's log(): one line on stderr, prefixed with the script's name."""
    def log(msg):
        print(f"{prefix}: {msg}", file=sys.stderr, flush=True)
    return log


def write_report(out, stem, md, data):
    """OUT/STEM.md and OUT/STEM.json (sorted keys, one space indent), as every script writes."""
    with open(os.path.join(out, stem + ".md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, stem + ".json"), "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")


def run_script(main, children, log, stop_timeout=10.0):
    """sys.exit(main()), stopping by PID the servers the script started (`children`) when it
    fails (a Failure: exit 1) or is interrupted (exit 130)."""
    try:
        sys.exit(main())
    except Failure as e:
        log(str(e))
        code = 1
    except KeyboardInterrupt:
        code = 130
    for p in list(children):
        stop(p, timeout=stop_timeout)
    sys.exit(code)


def git_commit():
    """The checkout's commit (with -dirty when it has changes), for the reports; "?" without git."""
    try:
        return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def raise_nofile(want=65536):
    """Raises this process's descriptor limit (the servers it starts inherit it) towards `want`:
    up to the hard limit, and past it up to fs.nr_open where the process may raise the hard
    limit (root with CAP_SYS_RESOURCE). Returns the soft limit in effect."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    except (ValueError, OSError):
        pass
    if want > soft and hard != resource.RLIM_INFINITY:
        try:
            with open("/proc/sys/fs/nr_open") as f:
                big = min(want, int(f.read()))
            resource.setrlimit(resource.RLIMIT_NOFILE, (big, max(big, hard)))
            soft = big
        except (ValueError, OSError):
            pass
    return soft


class Started:
    def __init__(self, name, popen, port, work, tls_port=None):
        self.name = name
        self.popen = popen
        self.port = port
        self.work = work
        self.tls_port = tls_port

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, timeout=10.0):
        stop(self.popen, timeout)


def stop(p, timeout=10.0):
    """SIGTERM to one process we started (by PID), then SIGKILL if it lingers."""
    if p is None or p.poll() is not None:
        return
    p.terminate()
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)


def response_complete(c):
    """True once c.buf holds a whole response (status line, headers, Content-Length body)."""
    if c.need is None:
        end = c.buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = c.buf[:end].decode("latin-1").split("\r\n")
        try:
            c.status = int(head[0].split()[1])
        except (IndexError, ValueError):
            c.status = -1
        length = 0
        for h in head[1:]:
            name, _, value = h.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        c.need = end + 4 + length
    return len(c.buf) >= c.need


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def start(name, work, docroot, keepalive_s, nofile, cpu=None, wrapper=(), stderr=None,
          single_process=False, ready_timeout=10.0, children=None, cert=None, workers=1):
    """Starts NAME in the foreground and waits until it accepts connections.

    cpu pins it (taskset: a CPU or a list, "0,1"); wrapper is a command prefix (valgrind ...).
    children, a list, gets the Popen at once, so the caller's cleanup can stop it whatever
    happens next. cert, a (certificate, key) pair, adds a TLS listener on a port that was just
    free (tls_port of the result). workers: see write_config().
    """
    prefix = (["taskset", "-c", str(cpu)] if cpu is not None else []) + list(wrapper)
    for attempt in range(3):
        port = 0 if name in PRINTS_PORT else free_port()
        tls = TlsFiles(free_port(), *cert) if cert else None
        # tls and workers only when they are not their defaults, so that a caller's own
        # write_config() in its place (pressure.py's, of the older signature) keeps working.
        more = {k: v for k, v in (("tls", tls), ("workers", workers))
                if v != {"tls": None, "workers": 1}[k]}
        argv = write_config(name, work, docroot, port, keepalive_s, nofile, single_process,
                            **more)
        env, argv = split_env(argv)
        # Only kahttpd and minimal write to stdout (one line: their port).
        out = subprocess.PIPE if name in PRINTS_PORT else subprocess.DEVNULL
        p = subprocess.Popen(prefix + argv, stdout=out, stderr=stderr, stdin=subprocess.DEVNULL,
                             text=True, env=env)
        if children is not None:
            children.append(p)
        deadline = time.monotonic() + ready_timeout
        if name in PRINTS_PORT:
            port = read_port(p, name, deadline)
        while port and time.monotonic() < deadline and p.poll() is None:
            if can_connect(port) and (tls is None or can_connect(tls.port)) and \
                    (name not in FORKS_WORKER or single_process or descendants(p.pid)):
                return Started(name, p, port, work, tls.port if tls else None)
            time.sleep(0.05)
        stop(p)
        sys.stderr.write(f"servers: {name} did not start (attempt {attempt + 1})\n")
    raise Failure(f"{name} did not start (see its error log under {work})")


def split_env(argv):
    """A command line that starts with `env VAR=VALUE ...` (caddy's) as (environment, the
    command itself), so that a wrapper such as valgrind runs the server, not env; else
    (None, argv)."""
    if not argv or argv[0] != "env":
        return None, argv
    n = 1
    while n < len(argv) and "=" in argv[n]:
        n += 1
    return dict(os.environ, **dict(a.split("=", 1) for a in argv[1:n])), argv[n:]


def read_port(p, name, deadline):
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    try:
        while time.monotonic() < deadline:
            if sel.select(timeout=0.2):
                line = p.stdout.readline()
                if not line:
                    return 0
                marker = f"{name}: listening on 127.0.0.1:"
                if line.startswith(marker):
                    return int(line[len(marker):].split()[0])
            if p.poll() is not None:
                return 0
    finally:
        sel.close()
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("argv", help="write NAME's configuration and print its command line")
    a.add_argument("name", choices=ALL)
    a.add_argument("--work", required=True)
    a.add_argument("--docroot", required=True)
    a.add_argument("--port", type=int, required=True)
    a.add_argument("--keepalive", type=int, default=5)
    a.add_argument("--nofile", type=int, default=1024)
    a.add_argument("--single-process", action="store_true")
    a.add_argument("--tls-port", type=int, help="also listen with TLS on this port")
    a.add_argument("--cert", help="PEM certificate for --tls-port")
    a.add_argument("--key", help="PEM key for --tls-port")
    v = sub.add_parser("version", help="print the server's version line")
    v.add_argument("name", choices=ALL)
    li = sub.add_parser("list", help="print one of the lists of servers, space-separated")
    li.add_argument("which", choices=("ALL", "PEERS", "GZIP", "FORKS_WORKER", "TLS"))
    mc = sub.add_parser("make-cert", help="write DIR/cert.pem and DIR/key.pem (ECDSA P-256)")
    mc.add_argument("dir")
    tp = sub.add_parser("tls-probe", help="protocol, cipher and resumption of 127.0.0.1:PORT")
    tp.add_argument("port", type=int)
    tp.add_argument("cafile")
    args = ap.parse_args()
    if args.cmd == "list":
        print(" ".join(globals()[args.which]))
        return 0
    if args.cmd == "make-cert":
        print("\n".join(make_cert(args.dir)))
        return 0
    if args.cmd == "tls-probe":
        print(json.dumps(tls_probe(args.port, args.cafile)))
        return 0
    if args.cmd == "argv":
        tls = None
        if args.tls_port:
            if not (args.cert and args.key):
                ap.error("--tls-port needs --cert and --key")
            tls = TlsFiles(args.tls_port, args.cert, args.key)
        for arg in write_config(args.name, args.work, args.docroot, args.port, args.keepalive,
                                args.nofile, args.single_process, tls):
            print(arg)
    else:
        print(version(args.name) or "")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks the layers of the source tree (docs/architecture.md, "Layout").

Each folder may include only the folders below it, and only server/io/ may use libuv:

    server/io      -> everything (and <uv.h>)
    server/static  -> server/obs, server/http, server/util, conf, parser
    server/obs     -> server/http, server/util, conf, parser
    server/http    -> server/util, conf, parser
    server/tls     -> server/util, conf, parser (and OpenSSL)
    server/util    -> nothing of the project
    conf           -> parser/text.hpp (the shared text helpers)
    parser         -> parser

and only server/io/CMakeLists.txt links libuv. Usage: check_layers.py ROOT; prints every
violation as `file:line: what` and exits 1 when there is one. --selftest checks the checker on
a small tree with known violations.
"""

import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

# (folder, project include prefixes it may use). The longest matching folder wins.
RULES = [
    ("server/io/", None),  # None: anything
    ("server/main.cpp", None),
    ("server/static/", ["server/static/", "server/obs/", "server/http/", "server/util/", "conf/",
                        "parser/"]),
    ("server/obs/", ["server/obs/", "server/http/", "server/util/", "conf/", "parser/"]),
    ("server/http/", ["server/http/", "server/util/", "conf/", "parser/"]),
    ("server/tls/", ["server/tls/", "server/util/", "conf/", "parser/"]),
    ("server/util/", ["server/util/"]),
    ("conf/", ["conf/", "parser/text.hpp"]),
    ("parser/", ["parser/"]),
]
UV_ALLOWED = ("server/io/",)
CODE_DIRS = ("parser", "conf", "server")


def rule_for(rel):
    best = None
    for folder, allowed in RULES:
        if rel.startswith(folder) and (best is None or len(folder) > len(best[0])):
            best = (folder, allowed)
    return best


def check(root):
    problems = []
    for top in CODE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                if name == "CMakeLists.txt":
                    with open(path, encoding="utf-8") as f:
                        for n, line in enumerate(f, 1):
                            if "LIBUV" in line and not rel.startswith(UV_ALLOWED):
                                problems.append(f"{rel}:{n}: links libuv outside server/io/")
                    continue
                if not name.endswith((".cpp", ".hpp", ".h", ".c")):
                    continue
                rule = rule_for(rel)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        kind, target = m.groups()
                        if target in ("uv.h", "uv/unix.h") or target.startswith("uv/"):
                            if not rel.startswith(UV_ALLOWED):
                                problems.append(f"{rel}:{n}: includes <{target}> outside "
                                                f"server/io/")
                            continue
                        if kind != '"' or rule is None or rule[1] is None:
                            continue
                        if not any(target.startswith(p) for p in rule[1]):
                            problems.append(f"{rel}:{n}: {rule[0]} may not include \"{target}\"")
    return problems


def selftest():
    cases = {
        "server/http/a.cpp": '#include "server/io/connection.hpp"\n',  # upward
        "server/static/b.hpp": "#include <uv.h>\n",  # libuv outside io
        "conf/c.cpp": '#include "parser/request.hpp"\n',  # conf uses only parser/text.hpp
        "server/util/CMakeLists.txt": "target_link_libraries(x PkgConfig::LIBUV)\n",
        # allowed ones
        "server/io/d.cpp": '#include <uv.h>\n#include "server/static/file_cache.hpp"\n',
        "server/obs/e.cpp": '#include "server/http/close_reason.hpp"\n',
        "conf/f.cpp": '#include "parser/text.hpp"\n',
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in cases.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        found = sorted(p.split(":")[0] for p in check(root))
    expected = sorted(["server/http/a.cpp", "server/static/b.hpp", "conf/c.cpp",
                       "server/util/CMakeLists.txt"])
    if found != expected:
        print(f"selftest: expected violations in {expected}, found {found}")
        return 1
    print("selftest: 4 violations found, 3 allowed includes passed")
    return 0


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} layering violation(s)")
        return 1
    print("layers: clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())

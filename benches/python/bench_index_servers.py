"""Server index backends (PostgreSQL, Redis): this atdata against Python atdata 0.7, side by side.

For each backend, each library gets its own fresh index (PostgreSQL: a database
``atdata_bench_<lib>_<random>``; Redis: ours a key prefix ``atdata_bench_<random>:``, 0.7 --
which has no prefix -- an empty numbered database, whose 0.7 keys are deleted afterwards), grown
in bulk to 1k, 10k and 100k entries (4 versions per name). At each size it measures:

- get by name (the newest version): ours ``Index.get_dataset(name)``, 0.7
  ``Index.get_dataset(name)`` (label lookup, then the entry);
- get by name and version: ours ``Index.get_dataset("name@3")``, 0.7
  ``Index.get_label(name, version="3")`` (0.7's ``get_dataset`` takes no version);
- list every entry: ours ``Index.list_datasets()``, 0.7 ``list(Index.list_datasets())``;
- round trips per get, counted on the wire: each library's connection goes through a counting
  TCP proxy started by this script, which counts client->server turns (one round trip = a
  request burst answered by the server) and statements (PostgreSQL ``Query`` / ``Execute``
  messages) or commands (Redis RESP arrays). pg_stat_statements would need a server restart
  with ``shared_preload_libraries`` (not loaded on the test server), and Redis ``INFO
  commandstats`` counts every client of a shared server and the commands inside Lua scripts:
  the wire count is exact and per connection. PostgreSQL connections use ``sslmode=disable``
  for both libraries (libpq would negotiate TLS where the server offers it; ours speaks
  plain TCP), so both pay for the same transport.

Bulk insert: ours ``Index.commit_entries`` (many entries in one transaction; chunks of 10k),
0.7's fastest path for entries whose shards exist: per entry ``provider.store_entry`` plus
``provider.store_label`` for the version and for the bare name (what its ``insert_dataset``
does, without re-reading the schema each time; 0.7 has no call for many entries). Entries/s
is the median over the chunks of the fill from 10k to 100k (9 chunks of 10k), and over the
1k->10k chunks in ``--quick``.

Every figure is the median of several repeats (gets: up to 200 calls within a time budget;
lists: at least 3). Needs PostgreSQL and Redis on 127.0.0.1 (scripts/services.sh) and atdata
0.7 in its own venv (scripts/ref-venv.sh). Reproduce:

    ATDATA_VENV=.venv scripts/py-env.sh
    .venv/bin/python benches/python/bench_index_servers.py --ref-python /work/ref-venv/bin/python
    .venv/bin/python benches/python/bench_index_servers.py --quick   # 1k and 10k only

(``--ref-python`` defaults to ``$ATDATA_REF_PYTHON``; ``--pg`` and ``--redis`` name the
servers, default ``postgresql://postgres@127.0.0.1:5432`` and ``redis://127.0.0.1:6379``.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

WORKER = "--worker"
VERSIONS_PER_NAME = 4
CHUNK = 10_000


# -- the entries ------------------------------------------------------------------------------


def entry_spec(k: int) -> tuple:
    """Entry k: its name, version and one shard (url, sha256, samples, bytes)."""
    name = f"ds-{k // VERSIONS_PER_NAME:06d}"
    version = k % VERSIONS_PER_NAME + 1
    url = f"/data/atdata-bench/{name}/v{version}/data-000000.tar"
    sha = hashlib.sha256(url.encode()).hexdigest()
    return name, version, (url, sha, 1000, 1 << 20)


# -- counting proxy ---------------------------------------------------------------------------


class Counter:
    """Round trips and statements/commands seen by a proxy, since the last reset."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.trips = 0
        self.ops = 0

    def reset(self) -> None:
        with self.lock:
            self.trips = 0
            self.ops = 0


class PgScanner:
    """Counts the statements a PostgreSQL client sends (``Query`` and ``Execute`` messages)."""

    def __init__(self) -> None:
        self.buf = b""
        self.startup = True

    def feed(self, data: bytes) -> int:
        self.buf += data
        n = 0
        while True:
            if self.startup:
                if len(self.buf) < 8:
                    return n
                length = int.from_bytes(self.buf[:4], "big")
                code = int.from_bytes(self.buf[4:8], "big")
                if len(self.buf) < length:
                    return n
                self.buf = self.buf[length:]
                # SSLRequest / GSSENCRequest come before the startup message.
                if code not in (80877103, 80877104):
                    self.startup = False
                continue
            if len(self.buf) < 5:
                return n
            length = int.from_bytes(self.buf[1:5], "big")
            if len(self.buf) < 1 + length:
                return n
            if self.buf[:1] in (b"Q", b"E"):
                n += 1
            self.buf = self.buf[1 + length :]


class RespScanner:
    """Counts the commands a Redis client sends (top-level RESP arrays)."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> int:
        self.buf += data
        n = 0
        while True:
            end = self._command_end(self.buf)
            if end is None:
                return n
            n += 1
            self.buf = self.buf[end:]

    @staticmethod
    def _command_end(b: bytes):
        if not b:
            return None
        if b[:1] != b"*":  # an inline command
            i = b.find(b"\r\n")
            return None if i < 0 else i + 2
        i = b.find(b"\r\n")
        if i < 0:
            return None
        at = i + 2
        for _ in range(int(b[1:i])):
            j = b.find(b"\r\n", at)
            if j < 0:
                return None
            size = int(b[at + 1 : j])
            at = j + 2 + size + 2
            if at > len(b):
                return None
        return at


class CountingProxy:
    """A TCP proxy on 127.0.0.1 to ``target``, counting client->server turns."""

    def __init__(self, host: str, port: int, kind: str) -> None:
        self.target = (host, port)
        self.kind = kind
        self.counter = Counter()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            state = {"last": None}
            scanner = PgScanner() if self.kind == "pg" else RespScanner()
            threading.Thread(
                target=self._pump, args=(client, upstream, state, "c", scanner), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, client, state, "s", None), daemon=True
            ).start()

    def _pump(self, src, dst, state, side, scanner) -> None:
        c = self.counter
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                with c.lock:
                    if side == "c":
                        if state["last"] != "c":
                            c.trips += 1
                        c.ops += scanner.feed(data)
                    state["last"] = side
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def via_proxy(url: str, port: int) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    u = urllib.parse.urlsplit(url)
    netloc = u.netloc.rsplit("@", 1)
    auth = netloc[0] + "@" if len(netloc) == 2 else ""
    return urllib.parse.urlunsplit(u._replace(netloc=f"{auth}127.0.0.1:{port}"))


# -- timing -----------------------------------------------------------------------------------


def median_time(fn, args_list, budget: float, min_reps: int = 3) -> tuple[float, int]:
    """Median seconds per call of ``fn(*args)`` over ``args_list``, stopping after ``budget``
    seconds once ``min_reps`` calls ran."""
    times = []
    start = time.perf_counter()
    for args in args_list:
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
        if len(times) >= min_reps and time.perf_counter() - start > budget:
            break
    return statistics.median(times), len(times)


# -- the libraries ----------------------------------------------------------------------------


class Ours:
    """This atdata through its Python API."""

    def __init__(self, backend: str, url: str, prefix: str) -> None:
        import atdata

        @atdata.packable
        class BenchSample:
            """A sample type for the index benchmark."""

            text: str

        self.sample_type = BenchSample
        self.backend = backend
        self.url = url
        self.prefix = prefix
        self.index = self.open(url)

    def open(self, url: str):
        import atdata

        if self.backend == "postgres":
            return atdata.Index(provider="postgres", dsn=url)
        return atdata.Index(provider=atdata.RedisProvider(url, prefix=self.prefix))

    def insert(self, ks: range) -> None:
        rows = []
        for k in ks:
            name, _v, shard = entry_spec(k)
            rows.append((name, [shard]))
        created = self.index.commit_entries(self.sample_type, rows)
        assert created == len(rows), (created, len(rows))

    @staticmethod
    def get(index, name: str) -> None:
        index.get_dataset(name)

    @staticmethod
    def get_version(index, name: str, version: int) -> None:
        e = index.get_dataset(f"{name}@{version}")
        assert e.version == str(version), (e.version, version)

    @staticmethod
    def list_all(index) -> int:
        return len(index.list_datasets())

    def close(self) -> None:
        if self.backend == "redis":
            self.index.provider.delete_all_keys()


class Ref:
    """atdata 0.7 (run in its own venv)."""

    SCHEMA_REF = "atdata://local/schema/BenchSample@1.0.0"

    def __init__(self, backend: str, url: str, prefix: str) -> None:
        self.backend = backend
        self.url = url
        self.index = self.open(url)
        self.index.provider.store_schema(
            "BenchSample",
            "1.0.0",
            json.dumps({"name": "BenchSample", "version": "1.0.0", "fields": []}),
        )

    def open(self, url: str):
        import atdata

        if self.backend == "postgres":
            return atdata.Index(provider="postgres", dsn=url)
        import redis

        return atdata.Index(redis=redis.Redis.from_url(url))

    def insert(self, ks: range) -> None:
        from atdata.local import LocalDatasetEntry

        p = self.index.provider
        for k in ks:
            name, v, (url, sha, _n, _b) = entry_spec(k)
            e = LocalDatasetEntry(
                name=name,
                schema_ref=self.SCHEMA_REF,
                data_urls=[url],
                metadata={"checksums": {url: sha}},
            )
            p.store_entry(e)
            p.store_label(name=name, cid=e.cid, version=str(v))
            p.store_label(name=name, cid=e.cid)

    @staticmethod
    def get(index, name: str) -> None:
        index.get_dataset(name)

    @staticmethod
    def get_version(index, name: str, version: int) -> None:
        index.get_label(name, version=str(version))

    @staticmethod
    def list_all(index) -> int:
        return len(index.list_datasets())

    def close(self) -> None:
        if self.backend == "redis":
            r = self.index.provider.redis
            for pattern in ("LocalDatasetEntry:*", "LocalSchema:*", "Label:*"):
                keys = list(r.scan_iter(match=pattern, count=1000))
                for i in range(0, len(keys), 1000):
                    r.delete(*keys[i : i + 1000])
        else:
            self.index.provider.close()


def worker(lib: str, backend: str, url: str, prefix: str, sizes: list, budget: float) -> dict:
    cls = Ours if lib == "ours" else Ref
    target = urllib.parse.urlsplit(url)
    proxy = CountingProxy(
        target.hostname, target.port or (5432 if backend == "postgres" else 6379),
        "pg" if backend == "postgres" else "redis",
    )
    t0 = time.perf_counter()
    me = cls(backend, url, prefix)
    counted = None
    out: dict = {"sizes": {}, "bulk": []}
    rng = random.Random(7)
    try:
        have = 0
        for size in sizes:
            # Fill in chunks of CHUNK entries (the first stage in one call).
            while have < size:
                n = min(CHUNK, size - have)
                t = time.perf_counter()
                me.insert(range(have, have + n))
                dt = time.perf_counter() - t
                out["bulk"].append({"from": have, "n": n, "seconds": dt})
                have += n
            names = [entry_spec(rng.randrange(size))[0] for _ in range(400)]
            # The newest version of a name is 4 once the index holds all 4 (sizes are
            # multiples of 4); name@v asks for versions 1-4.
            get_args = [(me.index, n) for n in names]
            ver_args = [(me.index, n, rng.randrange(VERSIONS_PER_NAME) + 1) for n in names]
            for a in get_args[:5]:  # warm up (prepared statements, scripts loaded)
                cls.get(*a)
            res = {}
            res["get"], res["get_n"] = median_time(cls.get, get_args, budget)
            res["get_version"], res["get_version_n"] = median_time(
                cls.get_version, ver_args, budget
            )
            got = cls.list_all(me.index)
            assert got == size, (got, size)
            res["list"], res["list_n"] = median_time(
                cls.list_all, [(me.index,)] * 50, budget * 2
            )
            # Round trips per get, on a second handle through the counting proxy.
            if counted is None:
                counted = me.open(via_proxy(url, proxy.port))
            for a in names[:3]:
                cls.get(counted, a)
                cls.get_version(counted, a, 1)
            for what, fn, args in (
                ("get", cls.get, [(counted, n) for n in names[:5]]),
                ("get_version", cls.get_version, [(counted, n, 2) for n in names[:5]]),
            ):
                proxy.counter.reset()
                for a in args:
                    fn(*a)
                with proxy.counter.lock:
                    res[f"{what}_trips"] = proxy.counter.trips / len(args)
                    res[f"{what}_ops"] = proxy.counter.ops / len(args)
            out["sizes"][str(size)] = res
            print(f"[{lib} {backend}] {size}: {json.dumps(res)}", file=sys.stderr, flush=True)
        # Round trips per entry of a bulk insert (one call of 100 entries, via the proxy).
        if counted is not None:
            proxy.counter.reset()
            if lib == "ours":
                rows = [(entry_spec(k)[0], [entry_spec(k)[2]]) for k in range(have, have + 100)]
                counted.commit_entries(me.sample_type, rows)
            else:
                saved = me.index
                me.index = counted
                me.insert(range(have, have + 100))
                me.index = saved
            with proxy.counter.lock:
                out["bulk_trips_per_entry"] = proxy.counter.trips / 100
                out["bulk_ops_per_entry"] = proxy.counter.ops / 100
    finally:
        me.close()
    out["total_seconds"] = time.perf_counter() - t0
    return out


# -- the driver -------------------------------------------------------------------------------

ADMIN = r"""
import json, sys
op, arg = sys.argv[1], json.loads(sys.argv[2])
if op in ("createdb", "dropdb"):
    import psycopg
    with psycopg.connect(arg["server"] + "/postgres", autocommit=True) as c:
        if op == "createdb":
            c.execute("CREATE DATABASE " + arg["db"])
        else:
            c.execute("DROP DATABASE IF EXISTS " + arg["db"] + " WITH (FORCE)")
elif op == "emptydb":
    import redis
    for db in range(15, 0, -1):
        r = redis.Redis.from_url(arg["server"] + "/" + str(db))
        if r.dbsize() == 0:
            print(db)
            break
"""


def admin(ref_python: str, op: str, **arg) -> str:
    p = subprocess.run(
        [ref_python, "-c", ADMIN, op, json.dumps(arg)], capture_output=True, text=True
    )
    if p.returncode != 0:
        raise SystemExit(f"admin {op} failed:\n{p.stderr}")
    return p.stdout.strip()


def run_worker(python: str, lib: str, backend: str, url: str, prefix: str, args) -> dict:
    cmd = [
        python, os.path.abspath(__file__), WORKER, lib, backend, url, prefix,
        ",".join(map(str, args.sizes)), str(args.budget),
    ]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{lib} {backend} worker failed ({p.returncode})")
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def bulk_rate(r: dict, sizes: list) -> tuple[float, int]:
    """Median entries/s over the chunks of the last fill stage."""
    start = sizes[-2] if len(sizes) > 1 else 0
    rates = [b["n"] / b["seconds"] for b in r["bulk"] if b["from"] >= start]
    return statistics.median(rates), len(rates)


def table(results: dict, sizes: list) -> str:
    lines = [
        "| backend | op | index size | atdata 0.7 | ours | speedup | round trips (0.7 / ours) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for backend in ("postgres", "redis"):
        if backend not in results:
            continue
        ref, ours = results[backend]["ref"], results[backend]["ours"]
        for op, label in (("get", "get by name"), ("get_version", "get name@version"),
                          ("list", "list every entry")):
            for size in map(str, sizes):
                a, b = ref["sizes"][size], ours["sizes"][size]
                trips = ""
                if op != "list":
                    trips = (
                        f"{a[op + '_trips']:g} / {b[op + '_trips']:g} "
                        f"({a[op + '_ops']:g} / {b[op + '_ops']:g} "
                        f"{'statements' if backend == 'postgres' else 'commands'})"
                    )
                lines.append(
                    f"| {backend} | {label} | {int(size):,} | {fmt_time(a[op])} | "
                    f"{fmt_time(b[op])} | {a[op] / b[op]:.1f}x | {trips} |"
                )
        ra, na = bulk_rate(ref, sizes)
        rb, nb = bulk_rate(ours, sizes)
        lines.append(
            f"| {backend} | bulk insert (entries/s, median of {nb} chunks) | "
            f"{sizes[-2] if len(sizes) > 1 else 0:,}->{sizes[-1]:,} | {ra:,.0f}/s | {rb:,.0f}/s | "
            f"{rb / ra:.1f}x | {ref['bulk_trips_per_entry']:g} / "
            f"{ours['bulk_trips_per_entry']:g} per entry |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == WORKER:
        lib, backend, url, prefix, sizes, budget = sys.argv[2:8]
        res = worker(lib, backend, url, prefix, [int(s) for s in sizes.split(",")],
                     float(budget))
        print(json.dumps(res))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref-python", default=os.environ.get("ATDATA_REF_PYTHON"))
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379")
    ap.add_argument("--quick", action="store_true", help="1k and 10k entries only")
    ap.add_argument("--backends", default="postgres,redis")
    ap.add_argument("--budget", type=float, default=2.0,
                    help="seconds of timing per get figure (at least 3 calls)")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    if not args.ref_python:
        raise SystemExit("--ref-python (or ATDATA_REF_PYTHON): the python of atdata 0.7's venv")
    args.sizes = [1000, 10_000] if args.quick else [1000, 10_000, 100_000]
    tag = f"{os.getpid()}_{random.getrandbits(32):08x}"
    results: dict = {}
    for backend in args.backends.split(","):
        results[backend] = {}
        for lib, python in (("ref", args.ref_python), ("ours", sys.executable)):
            print(f"== {backend}: {lib}", file=sys.stderr, flush=True)
            if backend == "postgres":
                db = f"atdata_bench_{lib}_{tag}"
                admin(args.ref_python, "createdb", server=args.pg, db=db)
                try:
                    # Plain TCP for both (libpq would otherwise negotiate TLS with a server
                    # that offers it, and ours does not speak TLS): the same transport, and
                    # statements the proxy can count.
                    results[backend][lib] = run_worker(
                        python, lib, backend, f"{args.pg}/{db}?sslmode=disable", "", args
                    )
                finally:
                    admin(args.ref_python, "dropdb", server=args.pg, db=db)
            else:
                if lib == "ref":
                    n = admin(args.ref_python, "emptydb", server=args.redis)
                    if not n:
                        raise SystemExit("no empty Redis database (1-15) for atdata 0.7")
                    url = f"{args.redis}/{n}"
                else:
                    url = f"{args.redis}/0"
                results[backend][lib] = run_worker(
                    python, lib, backend, url, f"atdata_bench_{tag}:", args
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(table(results, args.sizes))


if __name__ == "__main__":
    main()

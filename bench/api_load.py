"""The server list under concurrent clients, this code beside an older one on the same data.

Seeds a fleet as bench/api_list.py does (10,000 servers by default) in a throwaway PostgreSQL
database, then serves it with gunicorn (`--workers` processes of `--threads` threads) from
this checkout and from `--vs` (a git revision, exported with `git archive`; by default the
code before the scale issue's work), one after the other, and drives `--clients` concurrent
clients at `GET /api/v1/servers/?page_size=20` (a staff API token) for `--seconds` after a
warm-up. Prints requests/s, median and p95 latency and failed requests for each, and the
ratio. The clients are one asyncio loop (a new connection per request, as gunicorn's sync
workers close them), light enough to leave the two cores to the panel and PostgreSQL.

    python bench/api_load.py [--servers 10000] [--clients 50] [--seconds 20] [--vs REV]
        [--workers 2] [--threads 1] [--path /api/v1/servers/?page_size=20]
"""

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from api_list import seed
from benchlib import ROOT, bench_database, database_version, gunicorn

BEFORE = "068aef8"  # main before the scale issue's work (the code its figures were taken on)
DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_api_load"
WARM_UP_SECONDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--vs", default=BEFORE, help="the older revision to compare with")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--path", default="/api/v1/servers/?page_size=20")
    args = parser.parse_args()

    older = Path(tempfile.mkdtemp(prefix="metalpanel-bench-vs-"))
    try:
        with bench_database(DATABASE_URL):
            print(f"{database_version()}, {args.servers:,} servers,", end="")
            print(f" {args.clients} clients, gunicorn {args.workers} workers", end="")
            print(f" x {args.threads} threads, {args.path}")
            token = seed(args.servers)["token"]
            export(args.vs, older)
            rows = [(f"{args.vs} (before)", drive(older, token, args))]
            rows.append(("this checkout", drive(ROOT, token, args)))
            report(rows)
    finally:
        shutil.rmtree(older, ignore_errors=True)


def export(revision: str, into: Path) -> None:
    """The tree of `revision`, without touching this checkout or its worktrees."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tempfile.TemporaryFile() as tar:
        tar.write(archive)
        tar.seek(0)
        with tarfile.open(fileobj=tar) as files:
            files.extractall(into, filter="data")


def drive(code: Path, token: str, args) -> dict:
    with gunicorn(workers=args.workers, threads=args.threads, code=code) as base:
        url = urlsplit(base + args.path)
        request = (
            f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: Token {token}\r\nConnection: close\r\n\r\n"
        ).encode()
        asyncio.run(load(url.hostname, url.port, request, args.clients, WARM_UP_SECONDS))
        return asyncio.run(load(url.hostname, url.port, request, args.clients, args.seconds))


async def load(host: str, port: int, request: bytes, clients: int, seconds: float) -> dict:
    """`clients` loops of request, whole answer, next request, until `seconds` have passed."""
    latencies, failures = [], []
    deadline = time.monotonic() + seconds

    async def client():
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(request)
                answer = await reader.read()  # to EOF: the server closes after one answer
                writer.close()
            except OSError as error:
                failures.append(str(error))
                continue
            if answer.startswith(b"HTTP/1.1 200") or answer.startswith(b"HTTP/1.0 200"):
                latencies.append(time.perf_counter() - began)
            else:
                failures.append(answer.split(b"\r\n", 1)[0].decode(errors="replace"))

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.monotonic() - began
    return {
        "rate": len(latencies) / elapsed,
        "median": statistics.median(latencies) if latencies else float("nan"),
        "p95": statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else float("nan"),
        "ok": len(latencies),
        "failed": len(failures),
        "first_failure": failures[0] if failures else "",
    }


def report(rows: list[tuple[str, dict]]) -> None:
    print(f"\n{'code':22} {'requests/s':>10} {'median ms':>9} {'p95 ms':>7}", end="")
    print(f" {'ok':>6} {'failed':>6}")
    for label, row in rows:
        print(
            f"{label:22} {row['rate']:10.1f} {row['median'] * 1000:9.1f} "
            f"{row['p95'] * 1000:7.1f} {row['ok']:6d} {row['failed']:6d}"
        )
        if row["failed"]:
            print(f"{'':22} first failure: {row['first_failure']}")
    (_, before), (_, after) = rows
    print(f"\nthroughput: {after['rate'] / before['rate']:.1f}x the older code's")


if __name__ == "__main__":
    main()

"""How many ``GET /time/entries?pageSize=25`` a served sandbox answers per second.

Starts ``cwbulk sandbox serve`` in its own process on a free loopback port, then drives it
for a few seconds with concurrent httpx clients, each in a process of its own (so that no
client waits for another's GIL), and prints the rate beside the target. It also prints
the server's CPU time per request: what it could do on a core of its own, whatever else
the machine is busy with; and how long seeding a fresh database takes.

    python benchmarks/bench_sandbox.py [--seconds 5] [--clients 3]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx

from cwbulk.sandbox import reset

TARGET_PER_SECOND = 500
TARGET_SEED_SECONDS = 2.0
PATH = "/v4_6_release/apis/3.0/time/entries"


def start_server(db_path: Path) -> tuple[subprocess.Popen[str], str]:
    """Run ``cwbulk --json sandbox serve --port 0`` and return it with its site URL."""
    command = [sys.executable, "-m", "cwbulk", "--json", "sandbox", "serve", "--port", "0"]
    server = subprocess.Popen(
        [*command, "--db", str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    announced = json.loads(server.stdout.readline())
    return server, announced["url"]


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), or NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_process(site: str, seconds: float) -> tuple[int, int, list[float]]:
    """One client process: a sync httpx client sending GETs back to back for ``seconds``.

    Returns (ok, failed, latencies). (A sync client costs far less CPU per request than
    an async one, which matters when the clients share the machine with the server.)
    """
    token = base64.b64encode(b"cwbulk_sandbox+sandbox-public:sandbox-private").decode()
    headers = {
        "Authorization": f"Basic {token}",
        "clientId": "5a1db0c5-0000-4000-8000-00000000c0de",
    }
    ok = failed = 0
    latencies: list[float] = []
    with httpx.Client(base_url=site, headers=headers) as client:
        first = client.get(PATH, params={"pageSize": 25})
        assert first.status_code == 200 and len(first.json()) == 25, first.text[:200]
        stop = time.perf_counter() + seconds
        while (began := time.perf_counter()) < stop:
            response = client.get(PATH, params={"pageSize": 25})
            latencies.append(time.perf_counter() - began)
            if response.status_code == 200:
                ok += 1
            else:
                failed += 1
    return ok, failed, latencies


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=3, help="client processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        rows = reset(Path(folder) / "sandbox.sqlite")
        seed_seconds = time.perf_counter() - began
        server, site = start_server(Path(folder) / "sandbox.sqlite")
        try:
            with ProcessPoolExecutor(args.clients) as pool:
                # Start the worker processes and warm the server up first.
                list(pool.map(client_process, [site] * args.clients, [0.3] * args.clients))
                cpu_before = server_cpu_seconds(server.pid)
                began = time.perf_counter()
                results = list(
                    pool.map(client_process, [site] * args.clients, [args.seconds] * args.clients)
                )
                elapsed = time.perf_counter() - began
                cpu_used = server_cpu_seconds(server.pid) - cpu_before
        finally:
            server.terminate()
            server.wait(timeout=10)
    ok = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    latencies = [x for r in results for x in r[2]]
    rate = ok / elapsed
    p50 = statistics.median(latencies) * 1000
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000
    cpu_ms = cpu_used / ok * 1000
    print(f"GET {PATH}?pageSize=25: {args.clients} concurrent httpx clients, {elapsed:.1f} s")
    print(f"{'measure':<28}{'value':>10}{'target':>10}")
    print(f"{'requests/s':<28}{rate:>10.0f}{TARGET_PER_SECOND:>10}")
    print(f"{'ratio to target':<28}{rate / TARGET_PER_SECOND:>10.2f}{1:>10.2f}")
    print(f"{'server CPU ms per request':<28}{cpu_ms:>10.2f}{1000 / TARGET_PER_SECOND:>10.2f}")
    print(f"{'latency p50 (ms)':<28}{p50:>10.1f}")
    print(f"{'latency p95 (ms)':<28}{p95:>10.1f}")
    print(f"{'failed requests':<28}{failed:>10}{0:>10}")
    print(f"{'seeding (s)':<28}{seed_seconds:>10.2f}{TARGET_SEED_SECONDS:>10.2f}")
    print(f"{'seeded time entries':<28}{rows['time_entries']:>10}{3000:>10}")


if __name__ == "__main__":
    main()

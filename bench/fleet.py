"""Processes of a deployment for benches and multi-process tests: N `achterban serve` (with or
without their worker) and M `achterban worker`, started from this environment, stopped with
SIGTERM as an orchestrator does, with their peak memory (VmHWM) read before they exit.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
ACHTERBAN = str(Path(sys.executable).with_name("achterban"))


class FleetError(Exception):
    """A process did not start."""


@dataclass
class Fleet:
    urls: list[str]
    serve_pids: list[int]
    worker_pids: list[int]
    peak_rss_mb: dict[int, float] = field(default_factory=dict)  # pid → MB, filled at exit

    @property
    def pids(self) -> list[int]:
        return self.serve_pids + self.worker_pids

    def sample_rss(self) -> None:
        """Note each process's peak resident memory so far (the kernel keeps the peak)."""
        for pid in self.pids:
            peak = peak_rss_mb(pid)
            if peak is not None:
                self.peak_rss_mb[pid] = max(peak, self.peak_rss_mb.get(pid, 0.0))


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def fleet(
    env: dict[str, str],
    logs: Path,
    *,
    serve: int = 1,
    workers: int = 0,
    deliver: bool = True,
    profile: Path | None = None,
) -> AsyncIterator[Fleet]:
    """`serve` servers (each with its worker when `deliver` and no separate workers are
    asked for) and `workers` worker processes; all stopped with SIGTERM at the end."""
    procs: list[asyncio.subprocess.Process] = []
    urls: list[str] = []
    kinds: list[str] = []
    try:
        for k in range(serve):
            port = free_port()
            args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
            if workers or not deliver:
                args.append("--no-worker")
            if profile is not None:  # cProfile writes its file when serve exits (SIGTERM)
                out = str(profile / f"serve-{k}.prof")
                args = ["-m", "cProfile", "-o", out, ACHTERBAN, *args]
            procs.append(
                await _start(args, env, logs / f"serve-{k}.log", python=profile is not None)
            )
            urls.append(f"http://127.0.0.1:{port}")
            kinds.append("serve")
        for k in range(workers):
            procs.append(await _start(["worker"], env, logs / f"worker-{k}.log"))
            kinds.append("worker")
        for k, url in enumerate(urls):
            if not await ready(url, procs[k]):
                raise FleetError(
                    f"serve did not start: {(logs / f'serve-{k}.log').read_text()[-800:]}"
                )
        pids = [p.pid for p in procs]
        found = Fleet(urls, pids[:serve], pids[serve:])
        try:
            yield found
        finally:
            found.sample_rss()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def _start(
    args: list[str], env: dict[str, str], log: Path, *, python: bool = False
) -> asyncio.subprocess.Process:
    program = sys.executable if python else ACHTERBAN
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            program, *args, env=env, cwd=ROOT, stdout=out, stderr=out
        )


async def ready(url: str, proc: asyncio.subprocess.Process) -> bool:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):  # a minute
            if proc.returncode is not None:
                return False
            try:
                async with http.get(url + "/healthz") as r:
                    if r.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    return False

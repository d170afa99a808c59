"""The reference fan-out client: the least an asyncssh program has to do to run one command on N hosts.

Per host: connect (public key, host key checked against known_hosts), run the command, print its stdout
as ``name | line``, close. At most ``--limit`` hosts are in flight (an ``asyncio.Semaphore``). The key
and the known_hosts file are parsed once up front. Exit status 0 only if every host ran the command
with exit status 0; failures go to stderr, one line per host.

    python bench/ref_asyncssh.py -H hosts.txt -u USER -k KEY -K KNOWN_HOSTS [-l 64] COMMAND...

``hosts.txt`` holds one ``name address port`` per line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncssh


def read_hosts(path: Path) -> list[tuple[str, str, int]]:
    hosts = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, address, port = line.split()
            hosts.append((name, address, int(port)))
    return hosts


async def run_one(
    name: str,
    address: str,
    port: int,
    command: str,
    options: asyncssh.SSHClientConnectionOptions,
    limit: asyncio.Semaphore,
) -> bool:
    async with limit:
        try:
            async with asyncssh.connect(address, port, options=options) as conn:
                result = await conn.run(command, check=False)
        except (OSError, asyncssh.Error) as exc:
            print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return False
    out = result.stdout if isinstance(result.stdout, str) else ""
    sys.stdout.write("".join(f"{name} | {line}\n" for line in out.splitlines()))
    if result.exit_status != 0:
        print(f"{name}: exit status {result.exit_status}", file=sys.stderr)
        return False
    return True


async def main_async(args: argparse.Namespace) -> int:
    hosts = read_hosts(Path(args.hosts))
    options = asyncssh.SSHClientConnectionOptions(
        username=args.user,
        client_keys=[asyncssh.read_private_key(args.key)],
        known_hosts=asyncssh.read_known_hosts(args.known_hosts),
        agent_path=None,
        config=[],
        connect_timeout=30,
    )
    limit = asyncio.Semaphore(args.limit)
    command = " ".join(args.command)
    results = await asyncio.gather(*(run_one(n, a, p, command, options, limit) for n, a, p in hosts))
    failed = results.count(False)
    if failed:
        print(f"{failed} of {len(hosts)} hosts failed", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-H", "--hosts", required=True, help="file of 'name address port' lines")
    parser.add_argument("-u", "--user", required=True)
    parser.add_argument("-k", "--key", required=True, help="client private key")
    parser.add_argument("-K", "--known-hosts", required=True)
    parser.add_argument("-l", "--limit", type=int, default=64, help="hosts in flight at once (default 64)")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())

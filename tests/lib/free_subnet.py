#!/usr/bin/python3
"""Prints a /24 for compose.yml's monitoring network (MONITORING_SUBNET) that no Docker
network on this engine and no route of this host overlaps, or nothing when there is none.

The monitoring network's subnet is fixed (the only one allowed to read /metrics), so two
projects on one engine, like a test beside a running deployment, need different ones, and
Swarm rejects a task whose overlay network overlaps another. It is taken from
172.16.0.0/16, which Docker never hands out by itself: its bridge networks come from
172.17.0.0/16-172.31.0.0/16 and 192.168.0.0/16, its overlays from 10.0.0.0/8. A subnet in
those pools is free now and may be a new network's later: an engine that made and removed
a dozen networks gives 172.31.0.0/16 to a project's next one ("Pool overlaps").

Usable as a module too: free_subnet() returns the subnet or None."""
import ipaddress
import random
import subprocess


def _used():
    nets = []
    ids = subprocess.run(["docker", "network", "ls", "-q"], capture_output=True, text=True).stdout.split()
    if ids:
        out = subprocess.run(["docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"] + ids,
                             capture_output=True, text=True).stdout
        nets += out.split()
    try:  # iproute2 is not in every minimal system; Docker's networks are checked all the same
        routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        routes = ""
    nets += [line.split()[0] for line in routes.splitlines() if line and line.split()[0][0].isdigit()]
    return [ipaddress.ip_network(n, strict=False) for n in nets if ":" not in n]


def free_subnet():
    used = _used()
    free = [n for n in (ipaddress.ip_network("172.16.%d.0/24" % x) for x in range(256))
            if not any(n.overlaps(u) for u in used)]
    return str(random.choice(free)) if free else None


if __name__ == "__main__":
    print(free_subnet() or "")

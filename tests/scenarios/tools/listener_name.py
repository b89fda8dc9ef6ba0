#!/usr/bin/env python3
"""Compute ARC AutoscalingListener names (arc-domain §1.4).

    L = <ARS name>-<h8>-listener
    h8 = first 8 chars of FNVHashString(x)
    x  = <namespace>                                  (chart <= 0.13.0, "old" scheme)
    x  = <namespace>@<runnerGroup>@<githubConfigUrl>  (chart >= 0.13.1, "new" scheme)

FNVHashString = FNV-1a 32-bit over the UTF-8 bytes, printed as an unsigned
decimal string, each character mapped through k8s rand.SafeEncodeString
(alphabet "bcdfghjklmnpqrstvwxz2456789", index = rune mod 27).

Usage:
    listener_name.py <ars> <namespace>                        # old scheme
    listener_name.py <ars> <namespace> <runnerGroup> <url>    # new scheme ("" for no group)
    listener_name.py --self-test
"""
import sys

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    return "".join(ALPHABET[ord(c) % len(ALPHABET)] for c in s)


def fnv_hash_string(x: str) -> str:
    return safe_encode(str(fnv1a32(x.encode("utf-8"))))


def h8_old(namespace: str) -> str:
    return fnv_hash_string(namespace)[:8]


def h8_new(namespace: str, group: str, url: str) -> str:
    return fnv_hash_string(f"{namespace}@{group}@{url}")[:8]


def listener_name(ars: str, namespace: str, group=None, url=None) -> str:
    h = h8_old(namespace) if url is None else h8_new(namespace, group or "", url)
    return f"{ars}-{h}-listener"


def self_test() -> None:
    vectors = [
        (h8_old("det-ubuntu-latest"), "6f7586ff"),
        (h8_old("actions-runner"), "696d8f77"),
        (h8_old("actions-runner-system"), "884475f5"),
        (h8_old("gha-runners"), "d69d8c8c"),
        (h8_old("arc-runners"), "754b578d"),
        (listener_name("arc-runner-set", "arc-runners", "", "https://github.com/acme"),
         "arc-runner-set-85f786b5-listener"),
        (listener_name("linux-x64", "ci-runners", "", "https://github.com/acme"),
         "linux-x64-78c496b6-listener"),
        (listener_name("linux-x64", "ci-runners", "platform", "https://github.com/acme"),
         "linux-x64-6445b74c-listener"),
        (listener_name("linux-x64", "ci-runners"), "linux-x64-6c8dfdf9-listener"),
    ]
    bad = [(got, want) for got, want in vectors if got != want]
    for got, want in vectors:
        print(("ok  " if got == want else "FAIL"), want, got)
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a == ["--self-test"]:
        self_test()
    elif len(a) == 2:
        print(listener_name(a[0], a[1]))
    elif len(a) == 4:
        print(listener_name(a[0], a[1], a[2], a[3]))
    else:
        print(__doc__)
        sys.exit(2)

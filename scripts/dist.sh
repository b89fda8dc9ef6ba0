#!/usr/bin/env bash
# Build a release archive of kubectl-arc for one target:
#   dist/kubectl-arc_<os>_<arch>.tar.gz   (.zip for Windows)
#   dist/kubectl-arc_<os>_<arch>.tar.gz.sha256
# holding kubectl-arc (kubectl-arc.exe), the completion helper kubectl_complete-arc
# (kubectl_complete-arc.cmd on Windows) and LICENSE, at the archive root.
#
# Usage: scripts/dist.sh [--target TRIPLE] [--bin PATH] [--out DIR]
#   --target TRIPLE  Rust target to build and package (default: the host's, from `rustc -vV`).
#   --bin PATH       Package this already-built binary instead of running `cargo build --release`
#                    (its target is still taken from --target, default the host's).
#   --out DIR        Where to write the archive and its .sha256 (default: dist/ in the repo).
# Prints the archive's path as the last line of stdout.
#
# Runs with bash 3.2 (macOS) and Git Bash (Windows); needs tar, and zip, 7z or python3 for .zip.
set -euo pipefail

die() { echo "dist: $*" >&2; exit 2; }

root="$(cd "$(dirname "$0")/.." && pwd)"
target=""
bin=""
out="$root/dist"
while [ $# -gt 0 ]; do
  case "$1" in
    --target) [ $# -ge 2 ] || die "--target needs a value"; target="$2"; shift 2 ;;
    --target=*) target="${1#*=}"; shift ;;
    --bin) [ $# -ge 2 ] || die "--bin needs a value"; bin="$2"; shift 2 ;;
    --bin=*) bin="${1#*=}"; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

host="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')" || true
if [ -z "$target" ]; then
  [ -n "$host" ] || die "cannot find the host target (is rustc on PATH?); pass --target"
  target="$host"
fi

# Rust target triple -> krew/Go os and arch.
case "$target" in
  x86_64-*) arch=amd64 ;;
  aarch64-*|arm64-*) arch=arm64 ;;
  *) die "unsupported architecture in target $target" ;;
esac
case "$target" in
  *-linux-*) os=linux ;;
  *-apple-darwin) os=darwin ;;
  *-windows-*) os=windows ;;
  *) die "unsupported operating system in target $target" ;;
esac
exe=""
helper="kubectl_complete-arc"
ext="tar.gz"
if [ "$os" = windows ]; then
  exe=".exe"
  helper="kubectl_complete-arc.cmd"
  ext="zip"
fi

if [ -z "$bin" ]; then
  target_dir="${CARGO_TARGET_DIR:-$root/target}"
  if [ "$target" = "$host" ]; then
    (cd "$root" && cargo build --release --locked) >&2
    bin="$target_dir/release/kubectl-arc$exe"
  else
    (cd "$root" && cargo build --release --locked --target "$target") >&2
    bin="$target_dir/$target/release/kubectl-arc$exe"
  fi
fi
[ -f "$bin" ] || die "binary not found: $bin"

mkdir -p "$out"
out="$(cd "$out" && pwd)"
name="kubectl-arc_${os}_${arch}"
archive="$out/$name.$ext"
stage="$(mktemp -d "${TMPDIR:-/tmp}/kubectl-arc-dist.XXXXXX")"
trap 'rm -rf "$stage"' EXIT

cp "$bin" "$stage/kubectl-arc$exe"
cp "$root/scripts/$helper" "$stage/$helper"
cp "$root/LICENSE" "$stage/LICENSE"
chmod 0755 "$stage/kubectl-arc$exe" "$stage/$helper"
chmod 0644 "$stage/LICENSE"
files=("kubectl-arc$exe" "$helper" LICENSE)

rm -f "$archive" "$archive.sha256"
if [ "$ext" = zip ]; then
  if command -v zip >/dev/null 2>&1; then
    (cd "$stage" && zip -q -X "$archive" "${files[@]}")
  elif command -v 7z >/dev/null 2>&1; then
    (cd "$stage" && 7z a -tzip -bso0 -bsp0 "$archive" "${files[@]}")
  elif command -v python3 >/dev/null 2>&1; then
    (cd "$stage" && python3 -m zipfile -c "$archive" "${files[@]}")
  else
    die "need zip, 7z or python3 to write $archive"
  fi
else
  # Owner and group 0 where tar supports it (GNU tar, bsdtar); file order fixed.
  if tar --version 2>/dev/null | grep -q 'GNU tar'; then
    (cd "$stage" && tar --owner=0 --group=0 --numeric-owner -czf "$archive" "${files[@]}")
  else
    (cd "$stage" && tar --uid 0 --gid 0 -czf "$archive" "${files[@]}" 2>/dev/null) \
      || (cd "$stage" && tar -czf "$archive" "${files[@]}")
  fi
fi

if command -v sha256sum >/dev/null 2>&1; then
  sum="$(sha256sum "$archive" | cut -d' ' -f1)"
elif command -v shasum >/dev/null 2>&1; then
  sum="$(shasum -a 256 "$archive" | cut -d' ' -f1)"
else
  die "need sha256sum or shasum"
fi
# The format `sha256sum -c` reads.
printf '%s  %s\n' "$sum" "$name.$ext" > "$archive.sha256"

echo "dist: $name.$ext $sum ($(wc -c < "$archive" | tr -d ' ') bytes)" >&2
echo "$archive"

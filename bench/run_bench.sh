#!/usr/bin/env bash
# make bench: set up the benchmark's own environment, then run bench/run_bench.py.
#   bash bench/run_bench.sh [--size-mb N | --sizes 20,200,1000] [--seed S] [--peers a,b] ...
# Installs (once): Debian's bible-kjv (the prose source), bench/.venv with the
# peers pinned in bench/requirements.txt + bench/constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=bench
VENV=$BENCH/.venv
WORK=$BENCH/work
mkdir -p "$WORK"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "bench: need root to run: $*" >&2; return 1; fi; }

# Prose source: the King James Bible from Debian's bible-kjv-text (public domain
# text), read through bible-kjv's `bible` command.
if ! command -v bible >/dev/null; then
  echo "bench: installing Debian package bible-kjv (prose source)"
  as_root apt-get install -y -qq bible-kjv >/dev/null 2>&1 || {
    as_root apt-get update -qq >/dev/null
    as_root apt-get install -y -qq bible-kjv >/dev/null
  }
fi
if [ ! -s "$WORK/kjv.txt" ]; then
  bible -f gen1:1-rev22:21 > "$WORK/kjv.txt.tmp" && mv "$WORK/kjv.txt.tmp" "$WORK/kjv.txt"
fi

# The peers' virtualenv, rebuilt when the pins change.
STAMP=$VENV/.requirements.sha256
WANT=$(cat $BENCH/requirements.txt $BENCH/constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "bench: creating $VENV (peers: rensa, datasketch, datatrove, text-dedup)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -r $BENCH/requirements.txt -c $BENCH/constraints.txt 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import rensa, datasketch, datatrove, text_dedup, psutil, spacy" || {
    echo "bench: peer install failed" >&2; exit 1; }
  echo "$WANT" > "$STAMP"
fi

exec "$VENV/bin/python" $BENCH/run_bench.py "$@"

#!/usr/bin/env bash
# tsn-tf developer entry point: every command installs what it needs itself.
#   bash dev.sh demo [flags]   synthetic set: ingest -> train -> evaluate -> export -> predict
#   bash dev.sh test [args]    the whole test suite (pytest args pass through)
# Needs only Python 3.10-3.12; as root on Debian it installs python3.X-venv if venv lacks pip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=.venv
CONSTRAINTS=requirements/constraints.txt

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.10 python3; do
    if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1; then
      echo "$candidate"
      return
    fi
  done
  echo "error: no python3 found; install Python 3.10-3.12 (Debian: apt-get install python3 python3-venv)" >&2
  exit 1
}

create_venv() {
  local python version
  python="$(find_python)"
  "$python" -m venv "$VENV" 2>/dev/null && return
  rm -rf "$VENV"
  # Debian ships venv's pip bootstrap separately (python3.X-venv).
  version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "dev.sh: '$python -m venv' needs Debian's python${version}-venv; installing it" >&2
    apt-get update -qq && apt-get install -y -qq "python${version}-venv" >/dev/null \
      && "$python" -m venv "$VENV" && return
  fi
  echo "error: could not create $VENV; on Debian: apt-get install python${version}-venv" >&2
  exit 1
}

ensure_venv() {
  local stamp
  stamp="$VENV/.installed-$(cat setup.py "$CONSTRAINTS" | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return
  "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || { rm -rf "$VENV"; create_venv; }
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" -e ".[cpu,beam,profile,test]"
  # Its `tensorflow` requirement would pull the GPU wheel next to tensorflow-cpu.
  "$VENV/bin/python" -m pip install --quiet --no-deps -c "$CONSTRAINTS" tensorflow-serving-api
  rm -f "$VENV"/.installed-*
  touch "$stamp"
}

ensure_test_references() {
  # Tests only (the demo does not need them): PyTorch builds the reference networks
  # tsn-convert is checked against; pretrainedmodels' BN-Inception module is loaded
  # by path, so its torchvision, munch and tqdm requirements are skipped.
  local stamp
  stamp="$VENV/.references-$(sha256sum "$CONSTRAINTS" | cut -c1-16)"
  [ -f "$stamp" ] && return
  "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" torch
  "$VENV/bin/python" -m pip install --quiet --no-deps -c "$CONSTRAINTS" pretrainedmodels
  rm -f "$VENV"/.references-*
  touch "$stamp"
}

command="${1:-}"
shift || true
case "$command" in
  demo)
    ensure_venv
    exec "$VENV/bin/python" -m tsn_tf.trainers.demo "$@"
    ;;
  test)
    ensure_venv
    ensure_test_references
    export TF_CPP_MIN_LOG_LEVEL=2
    status=0
    "$VENV/bin/python" -m pytest "$@" || status=$?
    if [ "$status" -eq 5 ]; then
      # Exit 5 = no test collected. The suite always has tests, so this is a
      # mistake (a wrong path or marker expression), never a pass.
      echo "error: pytest collected no tests" >&2
    fi
    exit "$status"
    ;;
  *)
    echo "usage: bash dev.sh demo|test [args]" >&2
    exit 2
    ;;
esac

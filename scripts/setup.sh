#!/usr/bin/env bash
# Quick start, step 1: install what the project needs on Debian 12, build the guest kernel of the Linux bridge
# (cached under ~/.cache/virtio-fpga/linux) and run the main job (generate hdl/, lint it, synthesize it and print
# the resource table).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in verilator:verilator yosys:yosys iverilog:iverilog g++:g++ make:make clang-format:clang-format; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
# zlib headers: Verilator's FST waveform writer links against zlib.
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${missing[*]}; run this script as root, or install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "setup: installing npm packages"
npm ci --no-audit --no-fund --loglevel=error

# The Linux bridge's guest: Debian's linux-source-6.1 and busybox-static (installed when missing), a User Mode
# Linux kernel built from them (a few minutes, once; docs/linux.md).
npm run --silent linux:kernel

npm run --silent main

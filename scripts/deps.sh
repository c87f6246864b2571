#!/usr/bin/env bash
# Installs the Debian 12 packages kojo builds with, only those missing;
# `--fuzz` adds clang and its libFuzzer runtime (the fuzz preset). The
# dashboard (web/) needs Node.js and npm: Debian's nodejs and npm, only when
# the `node` or `npm` command is missing (a newer Node installed otherwise is
# kept). `--test` adds what only the tests use: chromium (the dashboard's
# browser test), prometheus (`promtool check metrics`), snakemake (its
# Slurm executor against kojo's Slurm commands) and jupyter-notebook with
# python3-ipykernel (a real Jupyter server and kernel behind `kojo
# notebook`'s proxy); tests skip without them.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config
      libfmt-dev nlohmann-json3-dev libcli11-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      libsqlite3-dev libcpp-httplib-dev libssl-dev openssl)
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
if [[ ${1:-} == --fuzz ]]; then pkgs+=(clang libclang-rt-14-dev); fi
if [[ ${1:-} == --test ]]; then pkgs+=(chromium prometheus snakemake jupyter-notebook python3-ipykernel); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "kojo: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

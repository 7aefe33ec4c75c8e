#!/usr/bin/env bash
# Install what the project needs from the operating system: Python 3.11+ with venv, and tesseract 5.
# On Debian/Ubuntu as root it uses apt-get; elsewhere it says what to install and stops.
set -euo pipefail

need=()
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  need+=(python3 python3-venv python3-pip)
fi
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr tesseract-ocr-eng)
if command -v tesseract >/dev/null 2>&1 && ! tesseract --list-langs 2>/dev/null | grep -qx eng; then
  need+=(tesseract-ocr-eng)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing system packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  exit 0
fi

cat >&2 <<MSG
Missing system packages: ${need[*]}
Install them with your package manager, for example:
  Debian/Ubuntu:  sudo apt-get install ${need[*]}
  Fedora:         sudo dnf install python3 tesseract tesseract-langpack-eng
  macOS:          brew install python@3.11 tesseract
then run the make command again.
MSG
exit 1

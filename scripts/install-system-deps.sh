#!/usr/bin/env bash
# Install what the project needs from the operating system: Python 3.11-3.12 with venv (RapidOCR's
# wheel wants < 3.13), tesseract 5 with English, Latin-script and CJK data, and the fonts
# samples/generate.py draws with. tesserocr's wheel bundles the tesseract library; it reads
# the models from the system's tessdata, so the CLI and the library see the same data.
# On Debian/Ubuntu as root it uses apt-get; elsewhere it says what to install and stops.
set -euo pipefail

need=()
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  need+=(python3 python3-venv python3-pip)
fi
command -v tesseract >/dev/null 2>&1 || need+=(tesseract-ocr tesseract-ocr-eng)
# Language data the pipeline picks from a card's country (ingest/reading.py COUNTRY_LANGS), and CJK.
declare -A lang_pkg=([eng]=tesseract-ocr-eng [osd]=tesseract-ocr-osd [pol]=tesseract-ocr-pol
  [tur]=tesseract-ocr-tur [ces]=tesseract-ocr-ces [swe]=tesseract-ocr-swe [vie]=tesseract-ocr-vie
  [Latin]=tesseract-ocr-script-latn [jpn]=tesseract-ocr-jpn [chi_sim]=tesseract-ocr-chi-sim)
if command -v tesseract >/dev/null 2>&1; then
  have=$(tesseract --list-langs 2>/dev/null || true)
  for lang in "${!lang_pkg[@]}"; do
    grep -qxF "$lang" <<<"$have" || grep -qxF "script/$lang" <<<"$have" || need+=("${lang_pkg[$lang]}")
  done
else
  need+=("${lang_pkg[@]}")
fi
# redis-server: the queue tests start a private one on a free port (tests/queueing.py).
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
for font in /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf:fonts-dejavu-core \
            /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:fonts-noto-cjk; do
  [ -e "${font%%:*}" ] || need+=("${font##*:}")
done
# The browser tests of the web app (tests/web) drive Debian's chromium through Playwright.
[ -x /usr/bin/chromium ] || need+=(chromium)
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

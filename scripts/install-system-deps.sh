#!/usr/bin/env bash
# Installs the Debian packages the studio needs, only those that are missing.
# Usage: scripts/install-system-deps.sh [--test]   (--test adds what the tests check with)
set -euo pipefail

# Pango is what WeasyPrint lays out print-ready PDFs with; mosquitto is the embedded MQTT broker
# (STUDIO_MQTT_URL=embedded) that tells endpoint fleets of feed changes.
packages=(python3 python3-venv python3-pip ffmpeg espeak-ng fonts-noto-core fonts-noto-cjk fonts-dejavu-core
          libpango-1.0-0 libpangoft2-1.0-0 fontconfig mosquitto)
if [[ "${1:-}" == "--test" ]]; then
    # Chromium for browser tests; Redis and PostgreSQL for the tests of those backends (run on loopback);
    # epubcheck (the EPUB validator) and poppler-utils (pdftotext, pdffonts) to check publications; nginx
    # in front of the staff and endpoint processes (tests/test_deployment.py, docs/DEPLOYMENT.md); icecast2,
    # a provincial radio's stream server, for the programme's relays (tests/services/test_programme.py).
    packages+=(chromium redis-server postgresql epubcheck poppler-utils nginx-light icecast2)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# A Python from elsewhere (pyenv, a container image) counts when it can make a venv.
if python3 -c "import venv, ensurepip" 2>/dev/null; then
    filtered=()
    for p in "${missing[@]}"; do
        case "$p" in python3|python3-venv|python3-pip) ;; *) filtered+=("$p") ;; esac
    done
    missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

echo "Installing system packages: ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
        SUDO="sudo"
    else
        echo "error: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

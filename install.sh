#!/usr/bin/env bash
# One-shot, idempotent set-up on a fresh machine: Chromium, a virtualenv in .venv with CPU torch 2.13.0
# and everything else constrained to it, then an import smoke check.
#   ZOO_VENV=path  use another virtualenv location     ZOO_PYTHON=python3.11  interpreter to build it with
set -euo pipefail
cd "$(dirname "$0")"
VENV=${ZOO_VENV:-.venv}
PY=${ZOO_PYTHON:-python3}

# 1. Chromium: Debian's package where we are root; otherwise Playwright's own browser (step 4).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[install] apt-get install chromium"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "[install] apt-get chromium failed; will try Playwright's browser"
fi

# 2. Virtualenv with CPU torch first (taken from local wheels where the machine has them).
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
stamp="$VENV/.actionzoo-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "[install] torch==2.13.0 + actionzoo[dev] into $VENV"
  "${PIP[@]}" install "torch==2.13.0"
  "${PIP[@]}" install -c constraints.txt -e ".[dev]"
  touch "$stamp"
fi

# 3. Import smoke: timm/lightning/torchmetrics load beside CPU torch (zoo's torchvision guard, zoo/core/compat.py).
"$VENV/bin/python" -c "import zoo, timm, lightning, torchmetrics, transformers, playwright, optuna, omegaconf, rich, miniwob"

# 4. No Debian Chromium: fall back to Playwright's bundled browser.
if [ ! -x /usr/bin/chromium ] && [ -z "${ZOO_CHROMIUM:-}" ]; then
  "$VENV/bin/python" -m playwright install chromium || echo "[install] warning: no Chromium available; browser tasks will fail"
fi
echo "[install] ready: $VENV/bin/zoo"

#!/usr/bin/env bash
# The Debian packages the test suite needs beyond Python and Node, installed with
# apt-get when missing (`make test` and .ci/run call this; it does nothing when all
# are present):
#   mosquitto       - every MQTT test starts a private broker on a free loopback port
#   chromium        - the page tests drive it through Playwright (tests/cloud/browser.py),
#                     handed over as executable_path: `playwright install` is never run
#   fonts-noto-cjk  - the zh screenshots of those tests, or every character is a box
# Without root (and no sudo), it says what to install and stops.
set -euo pipefail
missing=()
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then missing+=(mosquitto); fi
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if ! fc-list :lang=zh 2>/dev/null | grep -q . && ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
  missing+=(fonts-noto-cjk)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "error: the tests need these Debian packages: ${missing[*]}; install them with" \
       "'sudo apt-get install ${missing[*]}' / 测试需要以下 Debian 软件包：${missing[*]}，" \
       "请用 'sudo apt-get install ${missing[*]}' 安装" >&2
  exit 2
fi
echo "installing ${missing[*]} (apt-get) / 正在安装 ${missing[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null

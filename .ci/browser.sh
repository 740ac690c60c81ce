#!/usr/bin/env bash
# CI, before the tests: the browser tests drive Debian's `chromium` (/usr/bin/chromium) with
# playwright, never a browser that playwright downloads. Install it if it is missing, quietly;
# fail loudly if that cannot be done. Safe to run again: it does nothing when all is there.
set -euo pipefail

# fonts-liberation (Arial/Times-metric fonts) is only a Recommends of chromium, but without a
# font the screenshots a person looks at show boxes instead of letters.
packages=(chromium fonts-liberation)

installed() {
    local package
    for package in "${packages[@]}"; do
        dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$' || return 1
    done
}

if [ -x /usr/bin/chromium ] && installed; then
    exit 0
fi

fail() {
    echo ".ci/browser.sh: $*" >&2
    echo ".ci/browser.sh: the browser tests need Debian's chromium at /usr/bin/chromium:" \
         "apt-get install ${packages[*]}" >&2
    exit 1
}

command -v apt-get >/dev/null || fail "no apt-get here: this is not Debian"
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    fail "installing packages needs root (or password-less sudo)"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo ".ci/browser.sh: installing ${packages[*]} with apt-get" >&2
if ! { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q update &&
       "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q install -y \
           --no-install-recommends "${packages[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    fail "apt-get failed (its output is above)"
fi
[ -x /usr/bin/chromium ] || fail "apt-get succeeded but there is no /usr/bin/chromium"
/usr/bin/chromium --version 2>/dev/null >&2 || fail "/usr/bin/chromium does not start"

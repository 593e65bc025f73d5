#!/bin/sh
# scripts/deps.sh: install the Debian 12 packages that building, testing and the demo need.
# Idempotent: installs only what is missing, runs apt-get update at most once.
set -eu

PKGS="
build-essential clang clang-format libclang-rt-14-dev pkg-config
libssl-dev openssl libsqlite3-dev sqlite3 libpq-dev postgresql
libjansson-dev libcmocka-dev libcurl4-openssl-dev curl libmicrohttpd-dev
libp11-dev libp11-kit-dev libengine-pkcs11-openssl softhsm2 opensc
libargon2-dev libqrencode-dev libpng-dev zbar-tools libpcsclite-dev pcscd pcsc-tools
vsmartcard-vpcd vsmartcard-vpicc python3-virtualsmartcard python3-pycryptodome python3
apache2-utils nginx chromium fonts-noto-cjk procps iproute2 util-linux
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

# Node.js may come from elsewhere than Debian (with its own npm); only ask
# Debian for it when there is none at all.
if ! command -v npm >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "deps: missing packages:$missing" >&2
		echo "deps: run this script as root to install them" >&2
		exit 1
	fi
else
	SUDO=
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing

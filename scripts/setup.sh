#!/usr/bin/env bash
# Installs what dynfill needs to build and test (Debian 12, as root).
# Idempotent: packages already present are not touched, and apt is not
# contacted at all when nothing is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libdnnl-dev libhdf5-dev hdf5-tools libinih-dev libfftw3-dev libnetcdf-dev netcdf-bin libeccodes-dev
      libopenmpi-dev openmpi-bin libcjson-dev libcairo2-dev
      clang-format cppcheck
      python3-numpy python3-h5py python3-xarray python3-h5netcdf)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

#!/usr/bin/env bash
# Copies built executables out of a CMake build tree and lists the Debian
# packages that provide the shared libraries they load, so that a runtime image
# installs exactly those (and no -dev package, no compiler, no LibTorch where the
# binary does not link it).
#
# Usage: stage.sh [--exclude DIR]... [--allow-missing LIB]... BUILD_DIR OUT_DIR NAME...
#   Writes OUT_DIR/bin/NAME... and OUT_DIR/runtime-packages.txt (one a line).
#   --exclude DIR        libraries under DIR are shipped by the image itself
#                        (e.g. a CUDA LibTorch in /opt/libtorch): not mapped
#   --allow-missing LIB  a library ldd cannot find that the host provides at
#                        run time (e.g. libcuda.so.1, injected by the NVIDIA runtime)
# Exit status: 0 ok, 1 a binary or a library's package not found, 2 usage.
set -euo pipefail

excludes=()
allow_missing=()
while [ $# -gt 0 ]; do
  case "$1" in
    --exclude) excludes+=("$(readlink -f "$2")"); shift 2 ;;
    --allow-missing) allow_missing+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "stage.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 3 ]; then
  echo "usage: stage.sh [--exclude DIR]... [--allow-missing LIB]... BUILD_DIR OUT_DIR NAME..." >&2
  exit 2
fi
build_dir=$1 out_dir=$2
shift 2

mkdir -p "$out_dir/bin"
binaries=()
for name in "$@"; do
  found=$(find "$build_dir" -maxdepth 4 -type f -name "$name" -perm -u+x -not -path '*/CMakeFiles/*' | head -n 1)
  if [ -z "$found" ]; then
    echo "stage.sh: executable $name not found under $build_dir" >&2
    exit 1
  fi
  cp "$found" "$out_dir/bin/$name"
  binaries+=("$out_dir/bin/$name")
done

is_excluded() {
  local f=$1 d
  for d in "${excludes[@]+"${excludes[@]}"}"; do
    case "$f" in "$d"/*) return 0 ;; esac
  done
  return 1
}
is_allowed_missing() {
  local lib=$1 a
  for a in "${allow_missing[@]+"${allow_missing[@]}"}"; do
    [ "$lib" = "$a" ] && return 0
  done
  return 1
}

declare -A packages=()
status=0
for bin in "${binaries[@]}"; do
  # ldd prints "libx.so.1 => /path (addr)", "libx.so.1 => not found", or "/lib64/ld-linux... (addr)".
  while read -r lib arrow path _; do
    if [ "$arrow" = "=>" ] && [ "$path" = "not" ]; then
      if is_allowed_missing "$lib"; then continue; fi
      echo "stage.sh: $bin needs $lib, which is not found" >&2
      status=1
      continue
    fi
    if [ "$arrow" = "=>" ]; then file=$path; else file=$lib; fi
    case "$file" in /*) ;; *) continue ;; esac  # linux-vdso.so.1 and the like
    real=$(readlink -f "$file")
    if is_excluded "$real" || is_excluded "$file"; then continue; fi
    # dpkg knows a file by the path its package installed; try the resolved
    # path, the path ldd gave, and both with /lib <-> /usr/lib (merged /usr).
    pkg=""
    for candidate in "$real" "$file" "${real/#\/usr\/lib\//\/lib\/}" "${real/#\/lib\//\/usr\/lib\/}" \
                     "${file/#\/usr\/lib\//\/lib\/}" "${file/#\/lib\//\/usr\/lib\/}"; do
      pkg=$(dpkg-query -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1) || true
      [ -n "$pkg" ] && break
    done
    if [ -z "$pkg" ]; then
      echo "stage.sh: no Debian package owns $file (needed by $bin)" >&2
      status=1
      continue
    fi
    packages[$pkg]=1
  done < <(ldd "$bin")
done
printf '%s\n' "${!packages[@]}" | sort > "$out_dir/runtime-packages.txt"
echo "stage.sh: $(wc -l < "$out_dir/runtime-packages.txt") runtime packages for $*:" >&2
sed 's/^/  /' "$out_dir/runtime-packages.txt" >&2
exit $status

#!/usr/bin/env bash
# Tests of deploy/docker/stage.sh, the Dockerfile's helper that copies binaries
# out of the build tree and lists the Debian packages of the libraries they load
# (the runtime images install exactly those).
# Usage: stage_test.sh SOURCE_DIR BUILD_DIR      Exit: 0 passed, 1 failed, 77 skipped.
set -uo pipefail
SOURCE_DIR=$(cd "$1" && pwd)
BUILD_DIR=$2
STAGE="$SOURCE_DIR/deploy/docker/stage.sh"

if ! command -v dpkg-query > /dev/null || ! command -v ldd > /dev/null; then
  echo "SKIPPED stage_test: needs dpkg-query and ldd (a Debian system)"
  exit 77
fi
# A binary of ours to stage: the health probe (links gRPC), else the CLI.
name=""
for candidate in landscape-health-probe landscape; do
  if [ -n "$(find "$BUILD_DIR" -maxdepth 4 -type f -name "$candidate" -perm -u+x -not -path '*/CMakeFiles/*' 2> /dev/null | head -n 1)" ]; then
    name=$candidate
    break
  fi
done
if [ -z "$name" ]; then
  echo "SKIPPED stage_test: neither landscape-health-probe nor landscape is built in $BUILD_DIR"
  exit 77
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP" 2>/dev/null || true' EXIT
passed=0
failed=0
check() { local n=$1; shift; if "$@"; then echo "ok   - $n"; passed=$((passed + 1)); else echo "FAIL - $n"; failed=$((failed + 1)); fi; }

"$STAGE" "$BUILD_DIR" "$TMP/out" "$name" 2> "$TMP/err"; rc=$?
check "stages $name: exit 0" test $rc -eq 0
[ $rc -eq 0 ] || sed 's/^/       /' "$TMP/err"
check "copies the binary to OUT/bin" test -x "$TMP/out/bin/$name"
pk="$TMP/out/runtime-packages.txt"
check "lists runtime packages" test -s "$pk"
check "libc6 and libstdc++6 are among them" bash -c "grep -qx libc6 '$pk' && grep -qx 'libstdc++6' '$pk'"
if [ "$name" = landscape-health-probe ]; then
  check "gRPC's runtime library is among them" grep -q '^libgrpc++' "$pk"
fi
check "no -dev package" bash -c "! grep -q -- '-dev$' '$pk'"
check "every listed package is an installed Debian package" bash -c "while read -r p; do dpkg-query -W -f='\${Status}' \"\$p\" 2>/dev/null | grep -q 'install ok installed' || { echo \"not installed: \$p\"; exit 1; }; done < '$pk'"
check "the staged binary still finds its libraries" bash -c "! ldd '$TMP/out/bin/$name' | grep -q 'not found'"

libdir=$(dirname "$(ldd "$TMP/out/bin/$name" | awk '$1 ~ /^libstdc\+\+/ {print $3}')")
"$STAGE" --exclude "$libdir" "$BUILD_DIR" "$TMP/out2" "$name" 2> /dev/null; rc=$?
check "--exclude DIR leaves out the libraries under DIR" bash -c "[ $rc -eq 0 ] && ! grep -qx 'libstdc++6' '$TMP/out2/runtime-packages.txt'"

"$STAGE" "$BUILD_DIR" "$TMP/out3" no-such-binary 2> "$TMP/err3"; rc=$?
check "a binary that is not built: exit 1 naming it" bash -c "[ $rc -eq 1 ] && grep -q 'no-such-binary not found' '$TMP/err3'"
"$STAGE" "$BUILD_DIR" 2> /dev/null; rc=$?
check "too few arguments: exit 2" test $rc -eq 2
"$STAGE" --bogus a b c 2> /dev/null; rc=$?
check "unknown option: exit 2" test $rc -eq 2

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

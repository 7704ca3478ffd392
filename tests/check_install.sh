#!/bin/sh
# Install the build into a scratch prefix and check what a user gets:
# the SONAME, the exported symbols (abi/symbols.txt), the header as C99 and
# C++, and a consumer program built with `cc app.c $(pkg-config ...)`.
#   check_install.sh SOURCE_DIR BUILD_DIR [MODEL]
# PHI4_CROSS_HOST (set by tests/meson.build in a cross build) makes it a skip:
# the consumers are compiled with this machine's cc and run directly.
set -eu
if [ -n "${PHI4_CROSS_HOST:-}" ]; then
  echo "check_install: skipped: cross build for $PHI4_CROSS_HOST (run it in a native build)"
  exit 77
fi
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_install: $*" >&2; exit 1; }

meson install -C "$build" --no-rebuild --destdir "$tmp/root" --quiet >/dev/null
prefix=$(meson introspect "$build" --buildoptions |
  /usr/bin/python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
libdir=$(meson introspect "$build" --buildoptions |
  /usr/bin/python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
root="$tmp/root$prefix"
lib="$root/$libdir"

so=$(ls "$lib"/libphi4.so.*.*.* | head -n1)
soname=$(objdump -p "$so" | awk '/SONAME/{print $2}')
abi=$(sed -n 's/^#define PHI4_ABI_VERSION \([0-9]*\)$/\1/p' "$src/include/phi4.h")
[ "$soname" = "libphi4.so.$abi" ] || fail "SONAME is '$soname', expected libphi4.so.$abi"
[ -f "$lib/libphi4.a" ] || fail "no static library installed"

# Run-time dependencies: libc, libm and pthreads only, and OpenBLAS when
# built with -Dblas=openblas; without it the library must not even name it.
blas=$(meson introspect "$build" --buildoptions |
  /usr/bin/python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="blas"][0])')
needed=$(objdump -p "$so" | awk '/NEEDED/{print $2}')
allowed='^(libc|libm|libpthread|libdl|ld-linux[-a-z0-9_]*)\.so'
[ "$blas" = openblas ] && allowed="$allowed|^libopenblas\.so"
echo "$needed" | grep -vE "$allowed" | grep -q . &&
  fail "unexpected run-time dependencies: $(echo $needed)"
if [ "$blas" = openblas ]; then
  echo "$needed" | grep -q '^libopenblas' || fail "built with -Dblas=openblas but does not link it"
elif grep -qi openblas "$so"; then
  fail "a build without -Dblas=openblas names OpenBLAS"
fi

nm -D --defined-only "$so" | awk '$2=="T"{print $3}' | sort > "$tmp/symbols"
if ! diff -u "$src/abi/symbols.txt" "$tmp/symbols"; then
  fail "exported symbols differ from abi/symbols.txt (add new API there deliberately)"
fi
if nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^phi_' | grep -q .; then
  fail "symbols without the phi_ prefix are exported"
fi

hdr="$root/include/phi4.h"
[ -f "$hdr" ] || fail "header not installed at $hdr"
printf '#include <phi4.h>\nint main(void){return phi_version_number()==PHI4_VERSION_NUMBER?0:1;}\n' > "$tmp/c99.c"
cc -std=c99 -Wall -Wextra -Werror -pedantic -I"$root/include" -c "$tmp/c99.c" -o "$tmp/c99.o"
if command -v c++ >/dev/null; then
  c++ -std=c++11 -Wall -Wextra -Werror -pedantic -I"$root/include" "$src/tests/header_cxx.cc" \
    -L"$lib" -lphi4 -o "$tmp/cxx"
  LD_LIBRARY_PATH="$lib" "$tmp/cxx" || fail "C++ program failed"
fi

# pkg-config, as a user would after `meson install` (paths rewritten to the
# scratch prefix the way a relocated install would be).
export PKG_CONFIG_PATH="$lib/pkgconfig"
pc_flags=$(pkg-config --define-variable=prefix="$root" --cflags --libs phi4)
cc -std=c11 "$src/tests/consumer.c" $pc_flags -o "$tmp/consumer"
model=${3:-}
LD_LIBRARY_PATH="$lib" "$tmp/consumer" $model || fail "consumer failed"
# The examples, built the way the README says, against the installed header
# and library (their answers are checked in the examples suite).
cc -std=c11 -Wall -Wextra -Werror "$src/examples/chat.c" $pc_flags -o "$tmp/chat"
examples=chat
if command -v c++ >/dev/null; then
  c++ -std=c++11 -Wall -Wextra -Werror "$src/examples/chat.cc" $pc_flags -o "$tmp/chat-cc"
  examples="chat chat-cc"
fi
if [ -n "$model" ]; then
  for example in $examples; do
    LD_LIBRARY_PATH="$lib" "$tmp/$example" "$model" "Hi" > "$tmp/answer" ||
      fail "examples/$example failed"
  done
fi
static_flags=$(pkg-config --define-variable=prefix="$root" --cflags --libs --static phi4)
cc -std=c11 "$src/tests/consumer.c" "$lib/libphi4.a" $static_flags -o "$tmp/consumer-static"
"$tmp/consumer-static" || fail "statically linked consumer failed"
echo "check_install: SONAME $soname, needs $(echo $needed), $(wc -l < "$tmp/symbols") symbols, C99/C++ header, pkg-config shared and static consumers, examples ($examples) OK"

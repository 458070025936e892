#!/bin/sh
# Lays out the runtime image's root filesystem in DIR: the warden binary,
# every shared library it loads (as ldd reports them, with the dynamic
# loader), CA certificates for TLS to brokers and sinks, and passwd/group
# entries for the non-root user 65532. Run by the Dockerfile's build stage
# and by scripts/container.sh; POSIX sh, so a minimal build image will do.
#   scripts/container-rootfs.sh BINARY DIR
set -eu
bin=$1
root=$2
[ -x "$bin" ] || { echo "container-rootfs: $bin is not an executable" >&2; exit 1; }
rm -rf "$root"
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/etc/warden" "$root/tmp"
chmod 1777 "$root/tmp"
# Debug line tables make the binary several times larger; they help a
# profiler, not a pod. Strip them when the tools are there.
if command -v strip >/dev/null 2>&1; then
  strip --strip-debug -o "$root/usr/local/bin/warden" "$bin"
else
  cp "$bin" "$root/usr/local/bin/warden"
fi
# ldd prints "name => /path (addr)" for libraries and "/path (addr)" for
# the loader; copy each under the same path.
if ldd "$bin" | grep -q "not found"; then
  echo "container-rootfs: libraries $bin needs are missing here:" >&2
  ldd "$bin" | grep "not found" >&2
  exit 1
fi
ldd "$bin" | while read -r a b c d; do
  case "$b" in
    "=>") lib=$c ;;
    *) lib=$a ;;
  esac
  case "$lib" in
    /*)
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
      ;;
  esac
done
for ca in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt; do
  if [ -f "$ca" ]; then
    cp -L "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
    break
  fi
done
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"
echo "container-rootfs: $(find "$root" -type f | wc -l) files in $root"

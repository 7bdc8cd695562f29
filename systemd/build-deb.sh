#!/bin/sh
# build-deb.sh VERSION OUTDIR BINARY [CONFIG]: build OUTDIR/echogate_VERSION_ARCH.deb with dpkg-deb.
#
# BINARY becomes /usr/bin/echogate; echogate.service and the echogate-*.socket units go to
# /usr/lib/systemd/system; CONFIG (default systemd/echogate.toml, the packaged default that matches the
# socket units) becomes /etc/echogate/echogate.toml, a conffile. The full example examples/echogate.toml
# and README.md go to /usr/share/doc/echogate/. ARCH is `dpkg --print-architecture` unless DEB_ARCH is set.
set -eu
umask 022

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 VERSION OUTDIR BINARY [CONFIG]" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
version=${1#v}
outdir=$2
binary=$3
config=${4:-$here/echogate.toml}
example=$here/../examples/echogate.toml
readme=$here/../README.md
arch=${DEB_ARCH:-$(dpkg --print-architecture)}

case $version in
[0-9]*) ;;
*) echo "build-deb.sh: version $1 must start with a digit" >&2; exit 2 ;;
esac
[ -f "$binary" ] && [ -x "$binary" ] || { echo "build-deb.sh: $binary is not an executable file" >&2; exit 2; }
for f in "$config" "$example" "$readme"; do
	[ -f "$f" ] || { echo "build-deb.sh: $f not found" >&2; exit 2; }
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM
root=$stage/echogate
units=$(cd "$here" && echo echogate-*.socket)

install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" \
	"$root/usr/share/doc/echogate/examples" "$root/etc/echogate"
install -m 0755 "$binary" "$root/usr/bin/echogate"
install -m 0644 "$here/echogate.service" "$root/usr/lib/systemd/system/echogate.service"
for u in $units; do
	install -m 0644 "$here/$u" "$root/usr/lib/systemd/system/$u"
done
install -m 0644 "$example" "$root/usr/share/doc/echogate/examples/echogate.toml"
install -m 0644 "$readme" "$root/usr/share/doc/echogate/README.md"
install -m 0644 "$config" "$root/etc/echogate/echogate.toml"

echo /etc/echogate/echogate.toml >"$root/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: echogate
Version: $version
Architecture: $arch
Maintainer: echogate maintainers <echogate@localhost>
Installed-Size: $size
Section: net
Priority: optional
Description: TCP and UDP echo gateway served from one epoll loop
 echogate serves many TCP and UDP echo endpoints declared in one TOML file
 from a single event loop, reloads them without dropping connections and
 runs under systemd with one socket unit per listener.
CONTROL

cat >"$root/DEBIAN/postinst" <<'SCRIPT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
	if [ -z "${2:-}" ]; then
		echo "echogate: edit /etc/echogate/echogate.toml, then: systemctl enable --now echogate.service"
	fi
fi
SCRIPT
cat >"$root/DEBIAN/prerm" <<SCRIPT
#!/bin/sh
set -e
if [ "\$1" = remove ] && [ -d /run/systemd/system ]; then
	if command -v deb-systemd-invoke >/dev/null 2>&1; then
		deb-systemd-invoke stop echogate.service $units >/dev/null || true
	else
		systemctl stop echogate.service $units >/dev/null || true
	fi
fi
SCRIPT
cat >"$root/DEBIAN/postrm" <<'SCRIPT'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
SCRIPT
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

mkdir -p "$outdir"
deb=$outdir/echogate_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"

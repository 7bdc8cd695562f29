#!/bin/sh
# build-deb.sh VERSION OUTDIR BINARY [CONFIG]: build OUTDIR/echogate_VERSION_ARCH.deb with dpkg-deb.
#
# VERSION is a Debian version: the upstream version (the VERSION file, which the binary reports) and a
# revision, e.g. 0.2.0-1. BINARY becomes /usr/bin/echogate; echogate.service and the echogate-*.socket
# units go to /usr/lib/systemd/system; CONFIG (default systemd/echogate.toml, the packaged default that
# matches the socket units) becomes /etc/echogate/echogate.toml, a conffile. The examples, README.md, the
# copyright file and changelog.Debian.gz (systemd/changelog) go to /usr/share/doc/echogate/. The manual pages come from
# MAN_DIR (default bin/man: `make man` writes them there); the bash, zsh and fish completions are printed by
# BINARY itself (`echogate completion SHELL`), so BINARY must run on this host. ARCH is
# `dpkg --print-architecture` unless DEB_ARCH is set; the changelog's date is SOURCE_DATE_EPOCH (default:
# now); DEB_MAINTAINER overrides the Maintainer field.
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
examples=$here/../examples
readme=$here/../README.md
mandir=${MAN_DIR:-$here/../bin/man}
arch=${DEB_ARCH:-$(dpkg --print-architecture)}
maintainer=${DEB_MAINTAINER:-echogate maintainers <maintainers@echogate.invalid>}

case $version in
[0-9]*) ;;
*) echo "build-deb.sh: version $1 must start with a digit" >&2; exit 2 ;;
esac
[ -f "$binary" ] && [ -x "$binary" ] || { echo "build-deb.sh: $binary is not an executable file" >&2; exit 2; }
for f in "$config" "$examples/echogate.toml" "$readme" "$here/copyright" "$here/changelog" "$mandir/echogate.8" "$mandir/echogate.toml.5"; do
	[ -f "$f" ] || { echo "build-deb.sh: $f not found" >&2; exit 2; }
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM
root=$stage/echogate
units=$(cd "$here" && echo echogate-*.socket)

doc=$root/usr/share/doc/echogate
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" "$doc/examples" "$root/etc/echogate" \
	"$root/usr/share/man/man8" "$root/usr/share/man/man5" "$root/usr/share/bash-completion/completions" \
	"$root/usr/share/zsh/vendor-completions" "$root/usr/share/fish/vendor_completions.d" \
	"$root/usr/share/lintian/overrides"
install -m 0755 "$binary" "$root/usr/bin/echogate"
install -m 0644 "$here/echogate.service" "$root/usr/lib/systemd/system/echogate.service"
for u in $units; do
	install -m 0644 "$here/$u" "$root/usr/lib/systemd/system/$u"
done
# Every example, with the socket units and Kubernetes manifests of the examples that have them.
(cd "$examples" && find . -type f) | while read -r f; do
	install -D -m 0644 "$examples/$f" "$doc/examples/$f"
done
install -m 0644 "$readme" "$doc/README.md"
install -m 0644 "$here/copyright" "$doc/copyright"
install -m 0644 "$config" "$root/etc/echogate/echogate.toml"
gzip -9n <"$mandir/echogate.8" >"$root/usr/share/man/man8/echogate.8.gz"
gzip -9n <"$mandir/echogate.toml.5" >"$root/usr/share/man/man5/echogate.toml.5.gz"
"$binary" completion bash >"$root/usr/share/bash-completion/completions/echogate"
"$binary" completion zsh >"$root/usr/share/zsh/vendor-completions/_echogate"
"$binary" completion fish >"$root/usr/share/fish/vendor_completions.d/echogate.fish"
# Go links statically by design (lintian exempts Go packages it can see built from source, not a lone .deb).
echo "echogate: statically-linked-binary [usr/bin/echogate]" >"$root/usr/share/lintian/overrides/echogate"
# systemd/changelog is the package's history; a build of another version than its latest entry (a test
# build) gets an entry of its own on top.
if [ "$(sed -n '1s/^echogate (\([^)]*\)).*/\1/p' "$here/changelog")" = "$version" ]; then
	cp "$here/changelog" "$stage/changelog"
else
	date=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")
	printf 'echogate (%s) unstable; urgency=medium\n\n  * Build of echogate %s.\n\n -- %s  %s\n\n' \
		"$version" "${version%-*}" "$maintainer" "$date" | cat - "$here/changelog" >"$stage/changelog"
fi
gzip -9n <"$stage/changelog" >"$doc/changelog.Debian.gz"

echo /etc/echogate/echogate.toml >"$root/DEBIAN/conffiles"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f ! -path ./etc/\* -print | sed 's|^\./||' | LC_ALL=C sort |
	xargs md5sum) >"$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<CONTROL
Package: echogate
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Recommends: systemd
Section: net
Priority: optional
Description: TCP and UDP echo gateway served from one epoll loop
 echogate serves many TCP and UDP echo endpoints declared in one TOML file
 from a single event loop, reloads them without dropping connections and
 runs under systemd with one socket unit per listener.
CONTROL

# The maintainer scripts do what dh_installsystemd's would with --no-enable and --restart-after-upgrade: the
# units are not enabled on install (the config is to be edited first), a running service is restarted on
# upgrade (the sockets stay open), stopped on removal, and purge forgets its enablement.
cat >"$root/DEBIAN/postinst" <<SCRIPT
#!/bin/sh
set -e
if [ "\$1" = configure ] || [ "\$1" = abort-upgrade ] || [ "\$1" = abort-deconfigure ] || [ "\$1" = abort-remove ]; then
	deb-systemd-helper update-state echogate.service $units >/dev/null || true
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "\${2:-}" ]; then
			deb-systemd-invoke restart echogate.service >/dev/null || true
		fi
	fi
	if [ "\$1" = configure ] && [ -z "\${2:-}" ]; then
		echo "echogate: edit /etc/echogate/echogate.toml, then: systemctl enable --now echogate.service"
	fi
fi
SCRIPT
cat >"$root/DEBIAN/prerm" <<SCRIPT
#!/bin/sh
set -e
if [ "\$1" = remove ] && [ -d /run/systemd/system ]; then
	deb-systemd-invoke stop echogate.service $units >/dev/null || true
fi
SCRIPT
cat >"$root/DEBIAN/postrm" <<SCRIPT
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "\$1" = purge ]; then
	deb-systemd-helper purge echogate.service $units >/dev/null || true
fi
SCRIPT
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

mkdir -p "$outdir"
deb=$outdir/echogate_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"

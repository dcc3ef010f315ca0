#!/bin/bash
# Lays xCAT out from its source tree SRC into the host root DEST, as the
# %install sections of its spec files do (prefix /opt/xcat), and the parts
# of their %post that put files in place. Run on this machine, before
# xCAT is configured inside the host (xcat.go).
# Usage: xcat-layout.sh SRC DEST
set -euo pipefail
src=$1 dest=$2
p=$dest/opt/xcat

# perl-xCAT/perl-xCAT.spec %install: the xCAT:: library.
mkdir -p "$p/lib/perl/xCAT"
cp -r "$src/perl-xCAT/xCAT/." "$p/lib/perl/xCAT/"

# xCAT-server/xCAT-server.spec %install (the Linux branches).
s=$src/xCAT-server
mkdir -p "$p/sbin" "$p/bin" "$p/share/xcat" "$p/lib/perl/xCAT_plugin" "$p/xdsh/Context" \
	"$p/lib/perl/xCAT_monitoring" "$p/lib/perl/Confluent" "$p/lib/perl/xCAT_schema"
for d in install netboot ca mypostscript scripts conf samples tools hamn rollupdate installp_bundles \
	image_data cons devicetype; do
	[ -d "$s/share/xcat/$d" ] && cp -a "$s/share/xcat/$d" "$p/share/xcat/"
done
mkdir -p "$p/share/xcat/ib/netboot"
cp -a "$s/share/xcat/ib/scripts" "$p/share/xcat/ib/"
for d in sles rh; do cp -a "$s/share/xcat/ib/netboot/$d" "$p/share/xcat/ib/netboot/"; done
ln -sf kvm "$p/share/xcat/cons/mic"
ln -sfn Jun "$p/share/xcat/devicetype/EthSwitch/Juniper"
cp -d "$s"/sbin/* "$p/sbin/" && chmod 755 "$p"/sbin/*
cp -d "$s"/bin/* "$p/bin/" && chmod 755 "$p"/bin/*
cp "$s"/lib/xcat/plugins/* "$p/lib/perl/xCAT_plugin/"
cp "$s"/lib/perl/xCAT/* "$p/lib/perl/xCAT/"
cp "$s"/lib/xcat/dsh/Context/* "$p/xdsh/Context/"
cp -r "$s"/lib/xcat/monitoring/. "$p/lib/perl/xCAT_monitoring/"
cp -r "$s"/lib/xcat/Confluent/. "$p/lib/perl/Confluent/"
cp -r "$s"/lib/xcat/schema/. "$p/lib/perl/xCAT_schema/"
cp "$s/lib/xcat/shfunctions" "$p/lib/shfunctions"
cp "$s/etc/init.d/xcatd" "$p/share/xcat/scripts/xcatd" && chmod 755 "$p/share/xcat/scripts/xcatd"
mkdir -p "$dest/usr/lib/systemd/system"
cp "$s/etc/init.d/xcatd.service" "$dest/usr/lib/systemd/system/xcatd.service"
# xCAT-server.spec %post: xcatd where the unit looks for it, OS aliases.
ln -sf /opt/xcat/sbin/xcatd "$dest/usr/sbin/xcatd"
ln -sfn /opt/xcat/share/xcat/install/sles "$p/share/xcat/install/sle"
ln -sfn /opt/xcat/share/xcat/netboot/sles "$p/share/xcat/netboot/sle"
ln -sfn /opt/xcat/share/xcat/install/centos "$p/share/xcat/install/centos-stream"
ln -sfn /opt/xcat/share/xcat/netboot/centos "$p/share/xcat/netboot/centos-stream"

# xCAT-client/xCAT-client.spec %install: the commands, and its ln -sf
# lines that point most of them at xcatclient (read from the spec).
c=$src/xCAT-client
cp "$c"/bin/* "$p/bin/" && cp "$c"/sbin/* "$p/sbin/"
chmod 755 "$p"/bin/* "$p"/sbin/*
mkdir -p "$p/share/xcat/tools" "$p/share/xcat/rvid"
cp -r "$c"/share/xcat/tools/. "$p/share/xcat/tools/"
cp -r "$c"/share/xcat/rvid/. "$p/share/xcat/rvid/"
sed -n '/^%install/,/^%files/s|^ln -sf \([^ ]*\) \$RPM_BUILD_ROOT/%{prefix}/\([^ ]*\)$|\1 \2|p' \
	"$c/xCAT-client.spec" | while read -r target link; do
	ln -sf "$target" "$p/$link"
done
# xCAT-client.spec %post: the environment of xCAT's commands.
mkdir -p "$dest/etc/profile.d"
cat >"$dest/etc/profile.d/xcat.sh" <<'EOF'
XCATROOT=/opt/xcat
PATH=$XCATROOT/bin:$XCATROOT/sbin:$XCATROOT/share/xcat/tools:$PATH
MANPATH=$XCATROOT/share/man:$MANPATH
export XCATROOT PATH MANPATH
export PERL_BADLANG=0
EOF

# xCAT-probe/xCAT-probe.spec %install.
mkdir -p "$p/probe"
cp "$src/xCAT-probe/xcatprobe" "$p/bin/"
for d in subcmds lib scripts; do cp -r "$src/xCAT-probe/$d" "$p/probe/"; done

# xCAT/xCAT.spec %install: postscripts, prescripts, templates, xCATMN.
mkdir -p "$dest/install/postscripts/hostkeys" "$dest/install/prescripts" "$dest/install/kdump"
cp -r "$src/xCAT/postscripts/." "$dest/install/postscripts/"
chmod 755 "$dest"/install/postscripts/*
cp -r "$src/xCAT/prescripts/." "$dest/install/prescripts/"
cp -r "$src/xCAT/templates" "$p/share/xcat/"
cp "$src/xCAT/xCATMN" "$dest/etc/xCATMN"

# perl-xCAT.spec %build: modifyUtils puts the version and the build into
# xCAT::Version (lsxcatd -v, lsdef -v print it).
ver=$(cat "$src/Version")
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null ||
	grep -o '[0-9a-f]\{40\}' "$src/README.hamnflow.md" 2>/dev/null | head -1 | cut -c1-7 || true)
sed -i -e "s/#XCATVERSIONSUBHERE/. '$ver'/" \
	-e "s/#XCATSVNBUILDSUBHERE/. ' (git commit ${commit:-unknown}, built $(date -u))'/" \
	"$p/lib/perl/xCAT/Version.pm"

#!/bin/bash
# A missing package fails fast and is named, never a time-out:
#   - tools/setup.sh --check names the Debian package of each absent charon plugin
#     (here: an empty plugin folder stands for a machine without them);
#   - swan_start fails within seconds, naming the plugin, when charon logs that a plugin
#     failed to load (here: a plugin name that exists in no package);
#   - a missing command fails the scenario (not a skip) and names its package.
. "$(dirname "$0")/lib.sh"
iop_begin harness-missing

empty=$(mktemp -d "$IOP_WORK/plugins.XXXX")
out=$(SWAN_PLUGIN_DIR=$empty sh "$IOP_TOP/tools/setup.sh" --check 2>&1) &&
	iop_fail "setup.sh --check passed with no plugins at all"
grep -q "missing: strongSwan plugin gcm (package libstrongswan-standard-plugins)" <<<"$out" ||
	iop_fail "setup.sh --check does not name gcm's package: $(head -3 <<<"$out" | tr '\n' ' ')"
grep -q "missing: strongSwan plugin kernel-libipsec (package libcharon-extra-plugins)" <<<"$out" ||
	iop_fail "setup.sh --check does not name kernel-libipsec's package"

topo_build nat
swan_prepare "$NS_SB"
sed -i 's/^\(\tload = .*\)$/\1 tsunagi-absent-plugin/' "$(swan_dir "$NS_SB")/strongswan.conf"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
t0=$SECONDS
res=$( (swan_start "$NS_SB"; echo "swan_start returned") 2>&1 | grep -E '^FAIL:|returned')
took=$((SECONDS - t0))
grep -q "^FAIL: .*charon failed to load plugin(s) tsunagi-absent-plugin" <<<"$res" ||
	iop_fail "swan_start did not fail on the plugin charon could not load: ${res:-nothing}"
[ $took -le 12 ] || iop_fail "swan_start took $took s to report the missing plugin"
IOP_LOGS=()

res=$( (iop_require_cmd tsunagi-absent-command some-package; echo "went on") 2>&1)
grep -q "^FAIL: .*tsunagi-absent-command not installed (package some-package" <<<"$res" ||
	iop_fail "a missing command did not fail naming its package: $res"
iop_pass

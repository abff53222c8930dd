#!/bin/bash
# Wireshark's IKEv2 dissector as an independent reader of tsunagid's messages: tsunagid
# at site-a (behind the NAT) initiates to strongSwan at site-b, rekeys its CHILD_SA and
# the IKE SA, then deletes the CHILD_SA; the NAT namespace captures UDP 500/4500 on its
# link towards site-b (bounded by tshark -a duration). `tshark -V` must decode every
# IKE packet without "Malformed" or an error-level expert item, and must have
# recognised IKE_SA_INIT and IKE_AUTH (and the later exchanges) sent by tsunagid, i.e.
# from the NAT's outside address.
. "$(dirname "$0")/lib.sh"
iop_begin tshark-decode
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd tshark tshark

CAP_LIMIT_S=${CAP_LIMIT_S:-90}	# the capture ends by itself after this long

topo_build nat
pcap="$IOP_WORK/ike.pcap"
# Our own capture (cap_start has no time bound): ring of one file, -a duration.
ip netns exec "$NS_NAT" tshark -q -n -i "$CAPTURE_IF" -f "udp port 500 or udp port 4500" \
	-a "duration:$CAP_LIMIT_S" -w "$pcap" >"$pcap.log" 2>&1 &
CAP_PID=$!
iop_wait 15 grep -q "Capturing on" "$pcap.log" || iop_fail "tshark did not start: $(tail -2 "$pcap.log")"

swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b
swan_start "$NS_SB"; swan_load "$NS_SB"

tsu_conf "$NS_SA" a START_ACTION=start
tsu_start "$NS_SA"
swan_wait_sa "$NS_SB" 20 || iop_fail "strongSwan (site-b) has no ESTABLISHED+INSTALLED SA within 20 s"

# Make tsunagid send its other exchanges too (best effort: the decode is what counts).
tsu_ctl "$NS_SA" --rekey --child net >"$IOP_WORK/rekey-child.out" 2>&1
sleep 1
tsu_ctl "$NS_SA" --rekey --ike s2s >"$IOP_WORK/rekey-ike.out" 2>&1
sleep 1
tsu_ctl "$NS_SA" --terminate --child net >"$IOP_WORK/terminate.out" 2>&1
sleep 1
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
cap_stop
[ -s "$pcap" ] || iop_fail "no capture written: $(tail -2 "$pcap.log")"

# --- decode ----------------------------------------------------------------------------
verbose="$IOP_WORK/decode.txt"
tshark -r "$pcap" -n -V >"$verbose" 2>"$IOP_WORK/decode.err" ||
	iop_fail "tshark -r failed: $(tail -2 "$IOP_WORK/decode.err")"
iop_register_log "tshark -V" "$verbose"

# Frames whose dissection has a problem: "Malformed Packet", an expert item of
# severity Error, or a dissector exception. Each is named with its frame number.
bad=$(awk '
	/^Frame [0-9]+:/ { frame = $2; sub(":", "", frame) }
	/Malformed|\[Expert Info \(Error|Dissector bug|Exception occurred|\[Packet size limited/ {
		if (!(frame in seen)) { seen[frame] = 1; printf "frame %s: %s; ", frame, $0 }
	}' "$verbose" | sed 's/  */ /g')
[ -z "$bad" ] || iop_fail "tshark reports problems: ${bad:0:600}"

# Also the same through a display filter, which catches what -V phrases differently.
flagged=$(tshark -r "$pcap" -n -Y '_ws.malformed or _ws.expert.severity == "Error"' \
	-T fields -e frame.number 2>/dev/null | tr '\n' ' ')
[ -z "${flagged// /}" ] || iop_fail "tshark flags frames $flagged as malformed or in error"

# What tshark recognised as IKEv2 from tsunagid (the NAT's outside address).
fields=$(tshark -r "$pcap" -n -Y "isakmp and ip.src == $NAT_OUT" -T fields \
	-e isakmp.version -e isakmp.exchangetype -e isakmp.flag_r 2>/dev/null)
echo "$fields" >"$IOP_WORK/tsunagid-ike.txt"
n_ike=$(grep -c . <<<"$fields")
[ "$n_ike" -gt 0 ] || iop_fail "tshark recognised no IKE packet from tsunagid ($NAT_OUT)"
grep -Evq '^0x2' <<<"$fields" && iop_fail "an IKE packet from tsunagid is not IKE version 2.0: $(grep -Ev '^0x2' <<<"$fields" | head -1)"
has_exchange() { awk -F'\t' -v x="$1" '$2 == x' <<<"$fields" | grep -q .; }
has_exchange 34 || iop_fail "no IKE_SA_INIT from tsunagid recognised by tshark (saw: $(cut -f2 <<<"$fields" | sort -u | tr '\n' ' '))"
has_exchange 35 || iop_fail "no IKE_AUTH from tsunagid recognised by tshark (saw: $(cut -f2 <<<"$fields" | sort -u | tr '\n' ' '))"
# IKE_SA_INIT in the clear: tshark must see its payloads as tsunagid describes them.
init=$(tshark -r "$pcap" -n -Y "isakmp.exchangetype == 34 and ip.src == $NAT_OUT" -V 2>/dev/null)
for pl in "Security Association" "Key Exchange" "Nonce" "NAT_DETECTION_SOURCE_IP" \
	"NAT_DETECTION_DESTINATION_IP"; do
	grep -q "$pl" <<<"$init" || iop_fail "tshark did not find '$pl' in tsunagid's IKE_SA_INIT"
done
# IKE_AUTH and later are encrypted: tshark must find the Encrypted payload and stop there.
auth=$(tshark -r "$pcap" -n -Y "isakmp.exchangetype == 35 and ip.src == $NAT_OUT" -V 2>/dev/null)
grep -q "Encrypted and Authenticated" <<<"$auth" ||
	iop_fail "tshark did not find the Encrypted payload in tsunagid's IKE_AUTH"
iop_note "tshark decoded $n_ike IKE packets from tsunagid: exchanges $(cut -f2 <<<"$fields" | sort -u | tr '\n' ' ')"
iop_pass

#!/bin/bash
# Wireshark's IKEv2 dissector as an independent reader of tsunagid's messages: tsunagid
# at site-a (behind the NAT) initiates to strongSwan at site-b, rekeys its CHILD_SA and
# the IKE SA, then deletes the CHILD_SA; the NAT namespace captures UDP 500/4500 on its
# link towards site-b (bounded by tshark -a duration). `tshark -V` must decode every
# IKE packet without "Malformed" or an error-level expert item, and must have
# recognised IKE_SA_INIT and IKE_AUTH (and the later exchanges) sent by tsunagid, i.e.
# from the NAT's outside address.
# Then IKEv1 (`version = 1`), captured anew: tsunagid initiates Main Mode and Quick Mode
# (with PFS), rekeys the CHILD_SA by a second Quick Mode and deletes it; then it answers
# strongSwan's Main Mode and Quick Mode. Again no malformed packet or error, and tshark
# must have recognised ID_PROT, QUICK_MODE and INFORMATIONAL from tsunagid, and found
# the unencrypted payloads (SA, vendor IDs, KE, nonce, NAT-D) in its MM1..MM4.
. "$(dirname "$0")/lib.sh"
iop_begin tshark-decode
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd tshark tshark

CAP_LIMIT_S=${CAP_LIMIT_S:-90}	# the capture ends by itself after this long

topo_build nat
# capture PCAP: our own capture (cap_start has no time bound), ended by -a duration;
# cap_stop (lib.sh) ends it early through CAP_PID.
capture() {
	ip netns exec "$NS_NAT" tshark -q -n -i "$CAPTURE_IF" -f "udp port 500 or udp port 4500" \
		-a "duration:$CAP_LIMIT_S" -w "$1" >"$1.log" 2>&1 &
	# shellcheck disable=SC2034 # read by cap_stop
	CAP_PID=$!
	iop_wait 15 grep -q "Capturing on" "$1.log" || iop_fail "tshark did not start: $(tail -2 "$1.log")"
}

# decode_clean PCAP WHAT: every frame dissects without "Malformed Packet", an expert
# item of severity Error or a dissector exception (each named with its frame number).
decode_clean() {
	local pcap=$1 what=$2 verbose bad flagged
	verbose="$pcap.decode.txt"
	tshark -r "$pcap" -n -V >"$verbose" 2>"$pcap.decode.err" ||
		iop_fail "$what: tshark -r failed: $(tail -2 "$pcap.decode.err")"
	iop_register_log "tshark -V ($what)" "$verbose"
	bad=$(awk '
		/^Frame [0-9]+:/ { frame = $2; sub(":", "", frame) }
		/Malformed|\[Expert Info \(Error|Dissector bug|Exception occurred|\[Packet size limited/ {
			if (!(frame in seen)) { seen[frame] = 1; printf "frame %s: %s; ", frame, $0 }
		}' "$verbose" | sed 's/  */ /g')
	[ -z "$bad" ] || iop_fail "$what: tshark reports problems: ${bad:0:600}"
	# Also the same through a display filter, which catches what -V phrases differently.
	flagged=$(tshark -r "$pcap" -n -Y '_ws.malformed or _ws.expert.severity == "Error"' \
		-T fields -e frame.number 2>/dev/null | tr '\n' ' ')
	[ -z "${flagged// /}" ] || iop_fail "$what: tshark flags frames $flagged as malformed or in error"
}

pcap="$IOP_WORK/ike.pcap"
capture "$pcap"

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
decode_clean "$pcap" IKEv2

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

# --- IKEv1 -----------------------------------------------------------------------------
iop_stop_gateways "$NS_SA" "$NS_SB"
v1() { sed -i 's/^\(\t*\)version = 2$/\1version = 1/' "$1"; }
V1=(IKE_PROPOSALS=aes128-sha256-modp2048 ESP_PROPOSALS=aes128-sha256-modp2048)
pcap1="$IOP_WORK/ikev1.pcap"
capture "$pcap1"
# tsunagid initiates (site-a, behind the NAT).
swan_prepare "$NS_SB"
s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b "${V1[@]}"
v1 "$(swan_dir "$NS_SB")/swanctl.conf"
swan_start "$NS_SB"; swan_load "$NS_SB"
tsu_conf "$NS_SA" a START_ACTION=start "${V1[@]}"
v1 "$(tsu_dir "$NS_SA")/tsunagi.conf"
tsu_start "$NS_SA"
swan_wait_sa "$NS_SB" 20 || iop_fail "IKEv1: strongSwan (site-b) has no SA within 20 s"
tsu_ctl "$NS_SA" --rekey --child net >"$IOP_WORK/rekey-child-v1.out" 2>&1
sleep 1
tsu_ctl "$NS_SA" --terminate --child net >"$IOP_WORK/terminate-v1.out" 2>&1
sleep 1
tsu_alive "$NS_SA" || iop_fail "IKEv1: tsunagid died"
iop_stop_gateways "$NS_SA" "$NS_SB"
# tsunagid responds (site-b) to strongSwan at site-a.
tsu_conf "$NS_SB" b "${V1[@]}"
v1 "$(tsu_dir "$NS_SB")/tsunagi.conf"
tsu_start "$NS_SB"
swan_prepare "$NS_SA"
s2s_conf "$(swan_dir "$NS_SA")/swanctl.conf" a "${V1[@]}"
v1 "$(swan_dir "$NS_SA")/swanctl.conf"
swan_start "$NS_SA"; swan_load "$NS_SA"
swan_initiate "$NS_SA" net
swan_wait_sa "$NS_SA" 20 || iop_fail "IKEv1: strongSwan (site-a) has no SA with tsunagid within 20 s"
tsu_alive "$NS_SB" || iop_fail "IKEv1: tsunagid (responder) died"
cap_stop
[ -s "$pcap1" ] || iop_fail "IKEv1: no capture written: $(tail -2 "$pcap1.log")"
decode_clean "$pcap1" IKEv1

# What tshark recognised from tsunagid: from the NAT's outside address (initiator) and
# from site-b (responder).
v1_from="ip.src == $NAT_OUT or ip.src == $SITE_B_OUT"
fields=$(tshark -r "$pcap1" -n -Y "isakmp and ($v1_from)" -T fields -e isakmp.version \
	-e isakmp.exchangetype 2>/dev/null)
echo "$fields" >"$IOP_WORK/tsunagid-ikev1.txt"
grep -Evq '^0x1' <<<"$fields" && iop_fail "IKEv1: a packet from tsunagid is not ISAKMP version 1.0: $(grep -Ev '^0x1' <<<"$fields" | head -1)"
for x in 2 32 5; do
	has_exchange $x || iop_fail "IKEv1: no exchange type $x from tsunagid recognised by tshark (saw: $(cut -f2 <<<"$fields" | sort -u | tr '\n' ' '))"
done
# The clear Main Mode messages: tshark finds their payloads (MM1/MM2: SA and vendor IDs;
# MM3/MM4: KE, nonce, NAT-D), and the RFC 3947 vendor ID by name.
mm=$(tshark -r "$pcap1" -n -Y "isakmp.exchangetype == 2 and isakmp.flags == 0 and ($v1_from)" -V 2>/dev/null)
for pl in "Security Association" "Vendor ID" "Key Exchange" "Nonce" "NAT-D" "RFC 3947"; do
	grep -q "$pl" <<<"$mm" || iop_fail "IKEv1: tshark did not find '$pl' in tsunagid's clear Main Mode messages"
done
iop_note "tshark decoded $(grep -c . <<<"$fields") IKEv1 packets from tsunagid"
iop_pass

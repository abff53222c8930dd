#!/bin/bash
# Captures strongSwan's IKEv2 messages (strongSwan <-> strongSwan through the NAT) and
# writes each as a raw IKE message (non-ESP marker stripped) into OUTDIR, as seeds for
# the fuzz_ikev2 corpus:  tests/interop/capture-seeds.sh tests/fuzz/corpus/fuzz_ikev2
# Cases: a good exchange with rekeys and a delete, IKE and ESP proposal mismatches,
# a wrong PSK, INVALID_KE_PAYLOAD (retry with the requested group), ChaCha20-Poly1305.
# With IKEV=1, IKEv1 (Main Mode, Quick Mode, Informational) instead, as seeds for
# fuzz_isakmp (then run tests/fuzz/gen_ikev1_input_seeds.py for fuzz_ikev1_input):
#   IKEV=1 tests/interop/capture-seeds.sh tests/fuzz/corpus/fuzz_isakmp
# Cases: a good exchange (Quick Mode rekey, delete), with PFS, 3DES-MD5-MODP1024, IKE and
# ESP proposal mismatches, a wrong PSK.
. "$(dirname "$0")/lib.sh"
out=${1:?usage: capture-seeds.sh OUTDIR}
mkdir -p "$out" && out=$(cd "$out" && pwd)
iop_begin capture-seeds
iop_require_cmd tshark tshark
iop_require_cmd xxd xxd
topo_build nat

# seed_case NAME EXTRA-ACTION A-OVERRIDES... -- B-OVERRIDES...
seed_case() {
	local name=$1 action=$2 a=() b=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	b=("$@")
	cap_start "$NS_NAT" "$CAPTURE_IF" "$IOP_WORK/$name.pcap" "udp port 500 or udp port 4500"
	swan_prepare "$NS_SA"; swan_prepare "$NS_SB"
	s2s_conf "$(swan_dir "$NS_SA")/swanctl.conf" a "${V1[@]}" "${a[@]}"
	s2s_conf "$(swan_dir "$NS_SB")/swanctl.conf" b "${V1[@]}" "${b[@]}"
	if [ "${IKEV:-2}" = 1 ]; then
		sed -i 's/^\(\t*\)version = 2$/\1version = 1/' "$(swan_dir "$NS_SA")/swanctl.conf" \
			"$(swan_dir "$NS_SB")/swanctl.conf"
	fi
	swan_start "$NS_SB"; swan_load "$NS_SB"
	swan_start "$NS_SA"; swan_load "$NS_SA"
	swan_initiate "$NS_SA" net
	sleep 3
	if [ "$action" = rekey ]; then
		swan_ctl "$NS_SA" --rekey --child net >/dev/null 2>&1
		[ "${IKEV:-2}" = 1 ] || swan_ctl "$NS_SA" --rekey --ike s2s >/dev/null 2>&1
		sleep 1
		swan_ctl "$NS_SA" --terminate --ike s2s >/dev/null 2>&1
		sleep 1
	fi
	cap_stop
	echo "$name: $(cap_ike_seeds "$IOP_WORK/$name.pcap" "$out" "strongswan-$PFX$name") messages"
	iop_stop_gateways "$NS_SA" "$NS_SB"
}

V1=() PFX=""
if [ "${IKEV:-2}" = 1 ]; then
	# IKEv1 Phase 1 has no AEAD: CBC proposals on both sides.
	V1=(IKE_PROPOSALS=aes128-sha256-modp2048 ESP_PROPOSALS=aes128-sha256) PFX=v1-
	seed_case good rekey
	seed_case pfs rekey ESP_PROPOSALS=aes256-sha1-ecp256 -- ESP_PROPOSALS=aes256-sha1-ecp256
	seed_case legacy none IKE_PROPOSALS=3des-md5-modp1024 ESP_PROPOSALS=3des-md5 -- \
		IKE_PROPOSALS=3des-md5-modp1024 ESP_PROPOSALS=3des-md5
	seed_case ike-mismatch none IKE_PROPOSALS=aes256-sha1-ecp256
	seed_case esp-mismatch none ESP_PROPOSALS=aes256-sha1
	seed_case wrong-psk none PSK=wrong-key
	iop_done 0
fi
seed_case good rekey
seed_case ike-mismatch none IKE_PROPOSALS=aes128-sha256-modp2048
seed_case esp-mismatch none ESP_PROPOSALS=aes128-sha256
seed_case wrong-psk none PSK=wrong-key
seed_case invalid-ke none IKE_PROPOSALS=aes256gcm16-prfsha256-modp2048-x25519 -- IKE_PROPOSALS=aes256gcm16-prfsha256-x25519
seed_case chacha none IKE_PROPOSALS=chacha20poly1305-prfsha256-x25519 ESP_PROPOSALS=chacha20poly1305 -- IKE_PROPOSALS=chacha20poly1305-prfsha256-x25519 ESP_PROPOSALS=chacha20poly1305
iop_done 0

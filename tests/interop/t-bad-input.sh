#!/bin/bash
# Malformed input to tsunagid (site-b, responder) while strongSwan (site-a, behind the
# NAT) has an SA with it, all sent from site-a's namespace with plain python3 sockets:
#   - truncated and garbage UDP datagrams to ports 500 and 4500 (with and without the
#     non-ESP marker), IKE headers with bad lengths and bad payload lengths;
#   - random bytes after a valid IKE header carrying the SA's SPIs (every message ID
#     near the window, requests and responses, on both ports);
#   - short and garbage ESP-in-UDP and raw ESP with the CHILD_SA's inbound SPI, with
#     sequence numbers up to 2^32-1 (must not move the replay window);
#   - a burst of a few thousand random datagrams mixing all of the above;
#   - garbage on the VICI socket: random bytes, a huge length prefix, a connection that
#     announces a huge message and stalls, broken message bodies, deep nesting, many idle
#     connections.
# Afterwards tsunagid still runs, the SA carries traffic (ping) and still negotiates
# (strongSwan rekeys the CHILD_SA), the counters show the drops (--counters) and the
# CHILD_SA counted only the genuine packets (--list-sas --json), and tsunagictl still
# answers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-extra.sh"
iop_begin bad-input
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd python3 python3
BURST=${BURST:-3000}

topo_build nat
xt_swan_initiates_to_tsu

spi_i=$(xt_first_ike_json "$NS_SB" initiator-spi)
spi_r=$(xt_first_ike_json "$NS_SB" responder-spi)
esp_spi=$(xt_first_child_json "$NS_SB" spi-in)
[ ${#spi_i} = 16 ] && [ ${#spi_r} = 16 ] && [ ${#esp_spi} = 8 ] ||
	iop_fail "cannot read the SPIs from tsunagictl --list-sas --json ($spi_i $spi_r $esp_spi)"
iop_note "IKE SPIs $spi_i/$spi_r, ESP SPI $esp_spi"

declare -A before=()
for k in ike-rx-invalid ike-rx-no-sa esp-bad-packet esp-no-sa ike-rx-messages; do
	before[$k]=$(xt_counter "$NS_SB" "$k")
	[ -n "${before[$k]}" ] || iop_fail "tsunagictl --counters has no $k"
done
pkts_before=$(xt_first_child_json "$NS_SB" packets-in)

# --- network garbage ----------------------------------------------------------------
read -r -d '' NET_FUZZ <<'EOF'
import random, socket, struct, sys, time
dst, spi_i, spi_r = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
esp_spi, burst, rnd = int(sys.argv[4], 16), int(sys.argv[5]), random.Random(int(sys.argv[6]))
def rb(n): return rnd.randbytes(n)
socks = {p: socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for p in (500, 4500)}
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 50)
sent = {"ike": 0, "udp4500": 0, "esp": 0}
with_spi = 0		# ESP datagrams carrying the CHILD_SA's SPI
def send(port, data, kind="ike"):
    try:
        if port == 50: raw.sendto(data, (dst, 0))
        else: socks[port].sendto(data, (dst, port))
    except OSError:
        return
    sent[kind] += 1
    if sum(sent.values()) % 100 == 0: time.sleep(0.005)	# do not overrun socket buffers
M = b"\0\0\0\0"		# non-ESP marker
def hdr(si, sr, np, exch, flags, msgid, length, ver=0x20):
    return si + sr + struct.pack("!BBBBII", np, ver, exch, flags, msgid, length & 0xffffffff)
def sk(body): return struct.pack("!BBH", 0, 0, 4 + len(body)) + body
def esp(spi, seq, body):
    global with_spi
    with_spi += spi == esp_spi
    return struct.pack("!II", spi, seq) + body

# 1. Truncated and garbage datagrams.
for d in [b"", b"\x00", b"\xff\xff", rb(3), rb(7), rb(27), rb(100), rb(1400)]:
    send(500, d); send(4500, d, "udp4500"); send(4500, M + d)
# 2. IKE headers with bad lengths, bad versions, bad payload lengths.
for length in [0, 10, 27, 29, 1000, 65535, 0xffffffff]:
    h = hdr(rb(8), bytes(8), 33, 34, 0x08, 0, length)
    send(500, h); send(500, h + rb(40)); send(4500, M + h + rb(40))
for ver in [0x10, 0x30, 0xf0]:
    send(500, hdr(rb(8), bytes(8), 33, 34, 0x08, 0, 28 + 8, ver) + rb(8))
for plen in [0, 1, 3, 0xffff]:
    body = struct.pack("!BBH", 0, 0, plen) + rb(20)
    send(500, hdr(rb(8), bytes(8), 33, 34, 0x08, 0, 28 + len(body)) + body)
    body = struct.pack("!BBH", 40, 0, plen) + rb(20)	# chain into a second payload
    send(500, hdr(rb(8), bytes(8), 33, 34, 0x08, 0, 28 + len(body)) + body)
# 3. The SA's SPIs, a valid header, random bytes in an SK payload (or none at all).
for exch in [35, 36, 37, 99]:
    for flags in [0x08, 0x00, 0x20, 0x28]:
        for msgid in [0, 1, 2, 3, 4, 100, 0x7fffffff, 0xffffffff]:
            b = sk(rb(rnd.randint(0, 200)))
            send(4500, M + hdr(spi_i, spi_r, 46, exch, flags, msgid, 28 + len(b)) + b)
            send(500, hdr(spi_i, spi_r, 46, exch, flags, msgid, 28 + len(b)) + b)
            b = rb(rnd.randint(1, 60))	# trailing bytes (the plaintext probe comes later)
            send(4500, M + hdr(spi_i, spi_r, 0, exch, flags, msgid, 28 + len(b)) + b)
            send(4500, M + hdr(spi_i, spi_r, 46, exch, flags, msgid, 28 + len(b) + 50) + b)
    send(4500, M + hdr(spi_i, bytes(8), 33, 34, 0x08, 0, 28))	# INIT with the SA's SPIi
# 4. Short and garbage ESP with the CHILD_SA's SPI, over UDP and raw.
for seq in [0, 1, 2, 1000, 0x7fffffff, 0xfffffff0, 0xffffffff]:
    for n in [0, 1, 4, 8, 16, 24, 25, 40, 100, 1300]:
        send(4500, esp(esp_spi, seq, rb(n)), "udp4500")
        send(50, esp(esp_spi, seq, rb(n)), "esp")
send(4500, struct.pack("!I", esp_spi), "udp4500"); send(4500, struct.pack("!H", 1), "udp4500")
send(50, b"", "esp"); send(50, b"\x00\x00\x00\x01", "esp")
# 5. The burst.
for i in range(burst):
    k = rnd.randrange(6)
    if k == 0: send(500, rb(rnd.randint(0, 600)))
    elif k == 1: send(4500, rb(rnd.randint(0, 600)), "udp4500")
    elif k == 2:
        b = rb(rnd.randint(0, 300))
        b = sk(b)
        send(4500, M + hdr(spi_i, spi_r, 46, rnd.randrange(33, 38),
                           rnd.choice([0, 8, 0x20, 0x28]), rnd.randrange(8), 28 + len(b)) + b)
    elif k == 3:
        send(4500, esp(esp_spi, rnd.getrandbits(32), rb(rnd.randint(0, 300))), "udp4500")
    elif k == 4: send(50, esp(esp_spi, rnd.getrandbits(32), rb(rnd.randint(0, 300))), "esp")
    else:
        b = rb(rnd.randint(0, 300))
        send(500, hdr(rb(8), rnd.choice([bytes(8), rb(8)]), rnd.randrange(256),
                      rnd.randrange(30, 40), rnd.randrange(256), rnd.getrandbits(32),
                      rnd.choice([28 + len(b), rnd.getrandbits(32)])) + b)
print(sent["ike"], sent["udp4500"], sent["esp"], with_spi)
EOF

iop_note "sending garbage to $SITE_B_OUT"
counts=$(xt_py "$NS_SA" "$NET_FUZZ" $SITE_B_OUT "$spi_i" "$spi_r" "$esp_spi" "$BURST" $$) ||
	iop_fail "the garbage sender failed: $counts"
read -r n_ike n_udp n_esp n_spi <<<"$counts"
iop_note "sent $n_ike IKE-ish, $n_udp ESP-in-UDP-ish, $n_esp raw ESP datagrams ($n_spi with the SA's SPI)"
[ "$((n_ike + n_udp + n_esp))" -ge "$BURST" ] || iop_fail "only $n_ike+$n_udp+$n_esp datagrams sent"
sleep 1
tsu_alive "$NS_SB" || iop_fail "tsunagid died from the network garbage"

# --- VICI garbage -------------------------------------------------------------------
read -r -d '' VICI_FUZZ <<'EOF'
import random, socket, struct, sys, time
path, rnd = sys.argv[1], random.Random(int(sys.argv[2]))
def rb(n): return rnd.randbytes(n)
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    s.connect(path)
    return s
def shot(data, wait=0.05):
    s = conn()
    try:
        s.sendall(data)
        time.sleep(wait)
        s.settimeout(0.1)
        try: s.recv(65536)
        except OSError: pass
    except OSError:
        pass
    s.close()
def pkt(body): return struct.pack("!I", len(body)) + body
def cmd(name, body=b""): return pkt(b"\x00" + bytes([len(name)]) + name + body)
# Random bytes, huge and zero length prefixes.
for n in [1, 3, 4, 5, 64, 4096]: shot(rb(n), 0.05)
shot(b"\xff\xff\xff\xff" + rb(10))
shot(b"\x7f\xff\xff\xff" + rb(100))
shot(b"\x00\x00\x00\x00" * 8)
# Broken bodies: bad packet types, a name longer than the body, unbalanced sections,
# value lengths past the end, unknown element types, deep nesting.
for t in [1, 2, 3, 4, 5, 6, 7, 8, 200]: shot(pkt(bytes([t]) + rb(20)), 0.05)
shot(pkt(b"\x00\xff" + b"list-sas"))
shot(cmd(b"list-sas", b"\x02"))
shot(cmd(b"list-sas", b"\x01\x03abc"))
shot(cmd(b"list-sas", b"\x03\x03ike\xff\xff" + b"x" * 10))
shot(cmd(b"list-sas", b"\x05\x00\x03abc\x06"))
shot(cmd(b"list-sas", b"\x04\x03abc\x05\xff\xff"))
shot(cmd(b"list-sas", b"\x09\x09\x09"))
shot(cmd(b"load-conn", b"\x01\x01a" * 20000), 0.5)
shot(cmd(b"load-conn", b"\x01\x03bad\x03\x07version\x00\x01x\x02"))
shot(cmd(b"no-such-command"))
shot(cmd(b"\x00\xff\x01"))
for i in range(50): shot(rb(rnd.randint(1, 300)), 0)
# Stalled and idle connections stay open while tsunagictl runs (the caller checks).
hold = []
s = conn(); s.sendall(b"\x7f\xff\xff\xff" + rb(1000)); hold.append(s)
s = conn(); s.sendall(b"\x00\x00\x10"); hold.append(s)
for i in range(40):
    try: hold.append(conn())
    except OSError: break
print(len(hold), flush=True)
time.sleep(float(sys.argv[3]))
EOF

iop_note "sending garbage to the VICI socket"
vici_path=$(tsu_dir "$NS_SB")/tsunagi.vici
xt_py "$NS_SB" "$VICI_FUZZ" "$vici_path" $$ 2 >"$IOP_WORK/vici-fuzz.out" 2>&1 &
vpid=$!
iop_wait 15 grep -q '^[0-9]' "$IOP_WORK/vici-fuzz.out" ||
	iop_fail "the VICI garbage sender did not get through: $(tail -3 "$IOP_WORK/vici-fuzz.out")"
tsu_alive "$NS_SB" || iop_fail "tsunagid died from the VICI garbage"
out=$(timeout 5 ip netns exec "$NS_SB" "$BUILD/tsunagictl" --uri "$(tsu_uri "$NS_SB")" --list-sas 2>&1) ||
	iop_fail "tsunagictl --list-sas fails while stalled VICI clients are connected: $out"
grep -q "INSTALLED" <<<"$out" || iop_fail "tsunagictl --list-sas does not show the SA with stalled clients: $out"
wait "$vpid"
out=$(tsu_ctl "$NS_SB" --list-sas 2>&1) || iop_fail "tsunagictl --list-sas fails after the VICI garbage: $out"
grep -q "INSTALLED" <<<"$out" || iop_fail "tsunagictl --list-sas no longer shows the SA: $out"
tsu_ctl "$NS_SB" --stats >/dev/null 2>&1 || iop_fail "tsunagictl --stats fails after the VICI garbage"

iop_note "checking the SA"
# --- the SA survived ------------------------------------------------------------------
tsu_alive "$NS_SB" || iop_fail "tsunagid died"
xt_check_sanitizers
swan_sa_up "$NS_SA" || iop_fail "strongSwan lost its SA"
[ "$(xt_first_child_json "$NS_SB" spi-in)" = "$esp_spi" ] || iop_fail "tsunagid's CHILD_SA changed"
ip netns exec "$NS_HA" ping -q -c 5 -i 0.2 -W 2 $HOST_B >"$IOP_WORK/ping.out" 2>&1 ||
	iop_fail "host-a cannot ping host-b after the garbage (replay window or peer address moved?): $(tail -2 "$IOP_WORK/ping.out")"
pkts_after=$(xt_first_child_json "$NS_SB" packets-in)
[ "$((pkts_after - pkts_before))" = 5 ] ||
	iop_fail "the CHILD_SA counted $((pkts_after - pkts_before)) packets in for 5 pings: garbage was accepted"

# Counters: the drops are visible.
declare -A after=()
for k in "${!before[@]}"; do after[$k]=$(xt_counter "$NS_SB" "$k"); done
iop_note "counters before: $(for k in "${!before[@]}"; do printf '%s=%s ' "$k" "${before[$k]}"; done)"
iop_note "counters after:  $(for k in "${!after[@]}"; do printf '%s=%s ' "$k" "${after[$k]}"; done)"
d_inv=$((after[ike-rx-invalid] - before[ike-rx-invalid]))
d_nosa=$((after[ike-rx-no-sa] - before[ike-rx-no-sa]))
d_bad=$((after[esp-bad-packet] - before[esp-bad-packet]))
d_esp_nosa=$((after[esp-no-sa] - before[esp-no-sa]))
[ "$d_inv" -ge 100 ] || iop_fail "ike-rx-invalid grew by only $d_inv after $n_ike malformed IKE datagrams"
[ "$((d_inv + d_nosa))" -ge $((n_ike / 2)) ] ||
	iop_fail "ike-rx-invalid (+$d_inv) and ike-rx-no-sa (+$d_nosa) account for few of $n_ike malformed IKE datagrams"
[ "$d_bad" -ge 1 ] || iop_fail "esp-bad-packet did not grow after short ESP packets"
[ "$d_esp_nosa" -ge 100 ] || iop_fail "esp-no-sa grew by only $d_esp_nosa after random ESP SPIs"
tsu_log_has "$NS_SB" "(request|response) [0-9]+ failed the integrity check" ||
	iop_fail "tsunagid did not log the failed integrity checks of the forged SK payloads"

# Per-SA counters (requirements: integrity failures, replay drops... per SA): the forged
# ESP packets carrying the CHILD_SA's SPI must show in its --list-sas --json counters.
# Read now, before the rekey replaces the SA; judged at the end.
sa_drops=$(xt_json "$NS_SB" "sum(int(v) for s in j for i in s.values() for c in i['child-sas'].values()
	for k, v in c.items() if any(w in k for w in ('integrity', 'icv', 'auth', 'drop', 'invalid'))
	and str(v).isdigit())" --list-sas)
child_keys=$(xt_json "$NS_SB" "' '.join(sorted([c for s in j for i in s.values() for c in i['child-sas'].values()][0]))" --list-sas)

# The IKE SA still negotiates: strongSwan rekeys the CHILD_SA (the message IDs were not
# disturbed by the forged messages).
iop_note "strongSwan rekeys the CHILD_SA"
out=$(swan_ctl "$NS_SA" --rekey --child net 2>&1) || iop_fail "swanctl --rekey failed: $out"
iop_wait 10 eval '[ "$(xt_first_child_json "$NS_SB" spi-in)" != "$esp_spi" ] && tsu_child_up "$NS_SB"' ||
	iop_fail "the CHILD_SA rekey after the garbage did not complete: $(tsu_ctl "$NS_SB" --list-sas | head -4)"
swan_wait_sa "$NS_SA" 5 || iop_fail "strongSwan has no SA after the rekey"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b after the rekey"
tsu_alive "$NS_SB" || iop_fail "tsunagid died"

# Forged plaintext messages: the SA's SPIs and every message ID near the window, but no
# SK payload (RFC 7296 3.14: everything after IKE_SA_INIT is protected). From another
# port, an empty CREATE_CHILD_SA and INFORMATIONAL request, and one with Delete(IKE).
# tsunagid must not parse them as requests, follow the sender, or delete anything.
read -r -d '' PLAIN_PROBE <<'EOF'
import socket, struct, sys
dst, si, sr = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
delete_ike = struct.pack("!BBHBBH", 0, 0, 8, 1, 0, 0)
for msgid in range(0, 10):
    for exch, np, body in [(36, 0, b""), (37, 0, b""), (37, 42, delete_ike)]:
        h = si + sr + struct.pack("!BBBBII", np, 0x20, exch, 0x08, msgid, 28 + len(body))
        s.sendto(b"\0\0\0\0" + h + body, (dst, 4500))
EOF
spi_i=$(xt_first_ike_json "$NS_SB" initiator-spi)
spi_r=$(xt_first_ike_json "$NS_SB" responder-spi)
parsed_before=$(xt_tsu_log_count "$NS_SB" "parsed [A-Z_]+ request")
lines_before=$(wc -l <"$(tsu_dir "$NS_SB")/tsunagid.log")
iop_note "forged plaintext requests (no SK payload) with the SA's SPIs"
xt_py "$NS_SA" "$PLAIN_PROBE" $SITE_B_OUT "$spi_i" "$spi_r" || iop_fail "the plaintext probe could not be sent"
sleep 1
parsed_after=$(xt_tsu_log_count "$NS_SB" "parsed [A-Z_]+ request")
port=$(xt_first_ike_json "$NS_SB" remote-port)
[ "$parsed_after" = "$parsed_before" ] && [ "$port" = 4500 ] && tsu_child_up "$NS_SB" ||
	iop_fail "tsunagid accepted forged unencrypted requests (no SK payload) with the SA's SPIs:" \
	"$(tail -n +$((lines_before + 1)) "$(tsu_dir "$NS_SB")/tsunagid.log" |
		grep -E "parsed [A-Z_]+ request|peer moved|received DELETE for IKE_SA" | head -3 | cut -c14- | tr '\n' ';')" \
	"(IKE SA remote port now '${port:-none}'); decrypt_in() in ike/ike_core.c returns success when" \
	"a message has no SK payload, so one 36-byte datagram moves or deletes the IKE SA"
iop_ping "$NS_HA" $HOST_B 3 || iop_fail "host-a cannot ping host-b after the plaintext probe"

[ "${sa_drops:-0}" -ge 100 ] ||
	iop_fail "$n_spi forged ESP packets with the CHILD_SA's SPI were dropped (none can pass the" \
	"ICV check), but --list-sas --json shows no such per-SA counter (child keys: $child_keys);" \
	"the engine counts them (esp_engine_sa_stats: integrity, replay, padding, selector, other)" \
	"but daemon/views.c exposes only bytes and packets"
xt_check_sanitizers
iop_pass

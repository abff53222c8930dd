#!/bin/bash
# The Prometheus endpoint (tsunagi { metrics { listen } }): tsunagid at site-a brings up
# a tunnel to strongSwan at site-b, host-a pings host-b, and curl scrapes
# http://127.0.0.1:9903/metrics inside site-a. The text must parse (a strict parser of
# our own, and python3's prometheus_client), hold every counter of tsunagictl
# --counters, and show the CHILD_SA's byte and packet counters as --list-sas --json
# does (> 0). Bad requests: another path is 404, another method 405, huge headers or
# body are refused, a silent client is cut off, and tsunagid keeps serving. The
# listener binds to the configured address only, and a reload moves or closes it.
. "$(dirname "$0")/lib.sh"
iop_begin metrics
iop_require_tsunagid
iop_require_cmd swanctl strongswan-swanctl
iop_require_cmd curl curl
PY=""
for p in python3 /usr/bin/python3; do
	"$p" -c 'import prometheus_client' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || iop_fail "python3's prometheus_client not installed (package python3-prometheus-client; run tools/setup.sh)"

PORT=9903
topo_build direct
PAIR_TSU_DAEMON=("metrics {" "	listen = 127.0.0.1:$PORT" "}")
pair_start_tsu_initiator
swan_wait_sa "$NS_SB" 20 || iop_fail "strongSwan (site-b) has no ESTABLISHED+INSTALLED SA within 20 s"
tsu_ensure_route "$NS_SA" "$TSU_TUN_A" $NET_B || iop_fail "tsunagid created no TUN device $TSU_TUN_A"
iop_ping "$NS_HA" $HOST_B 5 || iop_fail "host-a cannot ping host-b through the tunnel"
iop_wait 5 tsu_child_up "$NS_SA" || iop_fail "tsunagictl --list-sas shows no installed CHILD_SA"

dir=$(tsu_dir "$NS_SA")
# http NS ARGS...: curl inside NS; prints the status code (000: no answer).
http() {
	local ns=$1; shift
	ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' --max-time 8 "$@"
}
URL=http://127.0.0.1:$PORT/metrics

# --- the scrape, between two listings (the counters may only grow in between) --------
tsu_ctl "$NS_SA" --list-sas --json >"$dir/sas-1.json" || iop_fail "tsunagictl --list-sas --json failed"
tsu_ctl "$NS_SA" --counters --json >"$dir/counters.json" || iop_fail "tsunagictl --counters --json failed"
got=$(ip netns exec "$NS_SA" curl -sS --max-time 8 -o "$dir/metrics.txt" \
	-w '%{http_code} %{content_type}' "$URL" 2>&1) || iop_fail "curl $URL failed: $got"
tsu_ctl "$NS_SA" --list-sas --json >"$dir/sas-2.json" || iop_fail "tsunagictl --list-sas --json failed"
[ "$got" = "200 text/plain; version=0.0.4; charset=utf-8" ] ||
	iop_fail "GET /metrics answered '$got', not 200 with the 0.0.4 text type"
iop_note "scraped $(wc -l <"$dir/metrics.txt") lines"

read -r -d '' CHECK <<'EOF'
import json, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
counters = json.load(open(sys.argv[2]))
before, after = json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
bad = []

# A strict reading of the 0.0.4 text format: HELP and TYPE once per family before its
# samples, one family's samples together, quoted label values with \\ \" \n escapes
# only, no sample twice, counters ending in _total, every line ending in \n.
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(?:\{(%s(?:,%s)*)\})? (\S+)$" % (NAME, LABEL, LABEL))
types, samples, seen, fam = {}, {}, set(), None
if not text.endswith("\n"):
    bad.append("the text does not end in a newline")
for n, line in enumerate(text.split("\n")[:-1], 1):
    m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
    if m:
        kind, name, rest = m.groups()
        if kind == "HELP":
            if name in types or name == fam:
                bad.append("line %d: family %s declared twice" % (n, name))
            fam = name
        elif name != fam or rest not in ("counter", "gauge"):
            bad.append("line %d: TYPE %s %s after HELP %s" % (n, name, rest, fam))
        else:
            types[name] = rest
            if rest == "counter" and not name.endswith("_total"):
                bad.append("line %d: counter %s does not end in _total" % (n, name))
        continue
    m = SAMPLE.match(line)
    if not m:
        bad.append("line %d unparsable: %r" % (n, line))
        continue
    name, labels, value = m.groups()
    if name != fam or fam not in types:
        bad.append("line %d: sample %s outside its family (%s)" % (n, name, fam))
    try:
        v = float(value)
    except ValueError:
        bad.append("line %d: value %r" % (n, value))
        continue
    lab = tuple(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels or ""))
    if (name, lab) in seen:
        bad.append("line %d: sample %s%s twice" % (n, name, dict(lab)))
    seen.add((name, lab))
    samples.setdefault(name, []).append((dict(lab), v))

# The Prometheus client's own parser reads the same samples.
from prometheus_client.parser import text_string_to_metric_families
theirs = sum(len(f.samples) for f in text_string_to_metric_families(text))
if theirs != len(seen):
    bad.append("prometheus_client read %d samples, we read %d" % (theirs, len(seen)))

def one(name, **want):
    got = [v for l, v in samples.get(name, []) if all(l.get(k) == w for k, w in want.items())]
    return got[0] if len(got) == 1 else None

# Every --counters name, as tsunagi_<name>_total (a counter without labels).
names = [k for sec in counters["counters"].values() for k in sec]
if len(names) < 10:
    bad.append("tsunagictl --counters --json lists only %d counters" % len(names))
for k in names:
    mname = "tsunagi_" + k.replace("-", "_") + "_total"
    if types.get(mname) != "counter" or one(mname) is None:
        bad.append("--counters' %s is not in the metrics as counter %s" % (k, mname))
    elif one(mname) < int(counters["counters"][""][k]):
        bad.append("%s is %s, below --counters' %s" % (mname, one(mname), counters["counters"][""][k]))
if one("tsunagi_ike_sas") != 1:
    bad.append("tsunagi_ike_sas is %s, not 1" % one("tsunagi_ike_sas"))
if (one("tsunagi_ike_established_total") or 0) < 1:
    bad.append("tsunagi_ike_established_total is not >= 1")

# The CHILD_SA's counters lie between the two listings and are above 0.
def children(j):
    return {(ike["uniqueid"], c["uniqueid"]): c for s in j for name, ike in s.items()
            for c in ike.get("child-sas", {}).values() if name == "s2s" and c["name"] == "net"}
b, a = children(before), children(after)
if not b:
    bad.append("--list-sas --json shows no CHILD_SA s2s/net")
for key, c in b.items():
    ids = dict(conn="s2s", child="net", ike_id=key[0], child_id=key[1])
    if one("tsunagi_child_sa_info", spi_in=c["spi-in"], spi_out=c["spi-out"], **ids) != 1:
        bad.append("no tsunagi_child_sa_info with SPIs %s/%s" % (c["spi-in"], c["spi-out"]))
    for what in ("bytes", "packets"):
        for d in ("in", "out"):
            v = one("tsunagi_child_sa_%s_total" % what, dir=d, **ids)
            lo = int(c["%s-%s" % (what, d)])
            hi = int(a.get(key, c)["%s-%s" % (what, d)])
            print("child %s/%s %s %s: metrics %s, --list-sas %d..%d" % (key + (what, d, v, lo, hi)))
            if v is None or not (0 < lo <= v <= hi):
                bad.append("tsunagi_child_sa_%s_total{dir=%s} is %s, --list-sas says %d..%d"
                           % (what, d, v, lo, hi))
    for cause in ("integrity", "replay", "padding", "selector", "other"):
        if one("tsunagi_child_sa_drops_total", cause=cause, **ids) is None:
            bad.append("no tsunagi_child_sa_drops_total{cause=%s}" % cause)
print("%d families, %d samples, %d --counters names" % (len(types), len(seen), len(names)))
for x in bad:
    print("BAD:", x)
sys.exit(1 if bad else 0)
EOF
out=$("$PY" -c "$CHECK" "$dir/metrics.txt" "$dir/counters.json" "$dir/sas-1.json" "$dir/sas-2.json" 2>&1) ||
	iop_fail "the scrape does not check out: $(grep -v '^child' <<<"$out" | head -12)"
iop_note "$out"

# --- bad requests: answered without touching the daemon -------------------------------
declare -A want=(
	["-X POST $URL"]=405 ["-X POST -d a=1 $URL"]=405 ["-X PUT -d a $URL"]=405
	["-X DELETE $URL"]=405 ["-X OPTIONS $URL"]=405 ["-X PATCH $URL"]=405
	["http://127.0.0.1:$PORT/"]=404 ["http://127.0.0.1:$PORT/other"]=404
	["http://127.0.0.1:$PORT/metricsx"]=404 ["-X POST http://127.0.0.1:$PORT/other"]=404
	["http://127.0.0.1:$PORT/metrics/../metrics?x=1"]=200 ["-I $URL"]=200
)
rx_before=$(tsu_counter "$NS_SA" ike-rx-messages)
for args in "${!want[@]}"; do
	# shellcheck disable=SC2086
	code=$(http "$NS_SA" $args)
	[ "$code" = "${want[$args]}" ] || iop_fail "curl $args answered $code, not ${want[$args]}"
done
ip netns exec "$NS_SA" curl -s -D - -o /dev/null --max-time 8 -X POST "$URL" | grep -qi '^Allow: GET, HEAD' ||
	iop_fail "405 without 'Allow: GET, HEAD'"

# Huge headers and body: refused by libevent's limits, never served.
pad=$(head -c 20000 /dev/zero | tr '\0' a)
code=$(http "$NS_SA" -H "X-Pad: $pad" "$URL")
case $code in 400|413|431|000) ;; *) iop_fail "a 20 kB header got $code";; esac
code=$(printf '%s' "$pad" | http "$NS_SA" -X POST --data-binary @- "$URL")
case $code in 400|413|000) ;; *) iop_fail "a 20 kB body got $code";; esac

# A client that sends half a request, and one that sends nothing, are cut off.
read -r -d '' SLOW <<'EOF'
import socket, sys, time
for first in (b"GET /metrics HTTP/1.1\r\nHost: x\r\n", b""):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.settimeout(20)
    t = time.time()
    s.sendall(first)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        print("still open after 20 s (%r)" % first)
        sys.exit(1)
    print("closed after %.1f s" % (time.time() - t))
EOF
out=$(ip netns exec "$NS_SA" "$PY" -c "$SLOW" "$PORT" 2>&1) || iop_fail "a slow client was not cut off: $out"
iop_note "slow clients: $(tr '\n' ' ' <<<"$out")"
[ "$(http "$NS_SA" "$URL")" = 200 ] || iop_fail "no answer to GET /metrics after the bad requests"
[ "$(tsu_counter "$NS_SA" ike-rx-messages)" = "$rx_before" ] || iop_fail "the HTTP requests moved an IKE counter"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"

# --- bound to the configured address only ----------------------------------------------
socks=$(ip netns exec "$NS_SA" ss -Hltn "sport = :$PORT" | awk '{print $4}')
[ "$socks" = "127.0.0.1:$PORT" ] || iop_fail "the listener is bound to '$socks', not 127.0.0.1:$PORT only"
[ "$(http "$NS_SB" "http://$SITE_A_OUT:$PORT/metrics")" = 000 ] ||
	iop_fail "site-b reaches the metrics at $SITE_A_OUT:$PORT"

# --- reload: moved, a bad value kept out (file:line), then closed ----------------------
conf=$dir/tsunagi.conf
sed -i "s/listen = 127.0.0.1:$PORT/listen = 127.0.0.1:$((PORT + 1))/" "$conf"
tsu_reload "$NS_SA" || iop_fail "tsunagid did not reload"
iop_wait 5 eval '[ "$(http "$NS_SA" http://127.0.0.1:$((PORT + 1))/metrics)" = 200 ]' ||
	iop_fail "after the reload nothing answers on port $((PORT + 1))"
[ "$(http "$NS_SA" "$URL")" = 000 ] || iop_fail "port $PORT still answers after moving the listener"
line=$(grep -n "listen = " "$conf" | cut -d: -f1)
sed -i "s/listen = .*/listen = 127.0.0.1:99999/" "$conf"
kill -HUP "${IOP_TSU_PID[$NS_SA]}"
iop_wait 5 grep -q "tsunagi.conf:$line: tsunagi: invalid metrics listen address '127.0.0.1:99999'" \
	"$dir/tsunagid.log" || iop_fail "no file:line error for a bad listen address"
[ "$(http "$NS_SA" "http://127.0.0.1:$((PORT + 1))/metrics")" = 200 ] ||
	iop_fail "a configuration with a bad listen address closed the running listener"
sed -i '/metrics {/,/}/d' "$conf"
tsu_reload "$NS_SA" || iop_fail "tsunagid did not reload"
iop_wait 5 eval '[ "$(http "$NS_SA" http://127.0.0.1:$((PORT + 1))/metrics)" = 000 ]' ||
	iop_fail "the listener is still open after its section was removed"
iop_ping "$NS_HA" $HOST_B 2 || iop_fail "the tunnel stopped carrying traffic"
tsu_alive "$NS_SA" || iop_fail "tsunagid died"
iop_pass

#!/usr/bin/env bash
# The whole job: the built-in `webex-calling` profile through the NAT lab,
# every rule with its variables set, against the lab's dnsmasq (answering the
# profile's names with lab addresses), nginx (the HTTPS and TCP endpoints) and
# the responder; timed against the peers doing the same work in the same run,
# one after the other: dig per name, nc -z per TCP port, sslscan per TLS
# endpoint, turnutils_stunclient per STUN port, nmap -sU over the responder's
# media ranges (-T4), tracepath to the host, one SIPp OPTIONS exchange with
# a SIP mirror. Excluded (timed by design, or served by peers not in this
# lab): nat_timeout and media_quality rules, and any kind listed in SKIP_KINDS.
#
# Two sites: healthy (every check passes, except that the lab's addresses are
# not in the published subnets: those two rules warn), and broken (DNS has no
# answer for one name, TCP 8934 DROPped, UDP 19600-19661 DROPped, WAN MTU
# 1400). Each verdict is asserted per check in both modes.
# quick: both sites, verdicts only. full: ROUNDS rounds, peers timed, ratio
# and callready's peak RSS reported (goal: <= 0.1 x the peers' sum, RSS <= 30 MB).
set -u
. "$SOURCE_DIR/tests/bench/bench_lib.sh"
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
for p in dnsmasq python3 /usr/bin/time; do command -v "$p" >/dev/null || { echo "SKIP: $p missing"; exit 77; }; done
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "SKIP: nginx missing (scripts/install-deps.sh)"; exit 77; }
if bench_quick; then ROUNDS=1; else ROUNDS=${ROUNDS:-3}; fi
# Kinds whose far ends this lab does not run (their own lab tests cover them).
SKIP_KINDS=${SKIP_KINDS:-nat_timeout,media_quality,ntp,proxy,http,ice,media_path}
trap lab_cleanup EXIT
lab_up || exit 1

WEBEX_IP=203.0.113.20  # every public Webex name answers with this address
OPEN_IP=203.0.113.12  # a responder without a token, for the peers
EDGE=edge.calling.lab.test
ip -n "$LAB_CLOUD" addr add "$WEBEX_IP/24" dev eth0
ip -n "$LAB_CLOUD" addr add "$OPEN_IP/24" dev eth0

# The profile as a scan runs it, variables set: its hosts and names.
"$CALLREADY" profiles show webex-calling >"$LAB_DIR/profile.json" || { echo "FAIL: profiles show"; exit 1; }
python3 - "$LAB_DIR/profile.json" "$EDGE" "$LAB_CLOUD_IP" "$SKIP_KINDS" >"$LAB_DIR/targets" <<'PY'
import ipaddress, json, sys
p = json.load(open(sys.argv[1]))
values = {k: v.get("default") for k, v in p.get("variables", {}).items()}
values.update({"calling_edge": sys.argv[2], "responder": sys.argv[3]})
skip = set(sys.argv[4].split(","))
def fill(s):
    for k, v in values.items():
        s = s.replace("${" + k + "}", str(v))
    return s
for kind in sorted({c["kind"] for c in p["checks"]} & skip): print("skip", kind)
for c in p["checks"]:
    if c["kind"] in skip: continue
    par = c.get("params", {})
    host = fill(par.get("host", "")) if isinstance(par.get("host"), str) else ""
    name = fill(par.get("name", "")) if isinstance(par.get("name"), str) else ""
    for n in (host, name):
        if n:
            try: ipaddress.ip_address(n)
            except ValueError: print("name", n)
    if c["kind"] == "tcp": print("tcp", host, par["port"])
    if c["kind"] == "tls": print("tls", host, par.get("port", 443))
    if c["kind"] == "stun": print("stun", host, par.get("port", 3478))
PY
names=$(awk '$1 == "name" {print $2}' "$LAB_DIR/targets" | sort -u)
skipped=$(awk '$1 == "skip" {print $2}' "$LAB_DIR/targets" | paste -sd,)
tcp_ports=$(awk '$1 == "tcp" && $2 !~ /^[0-9.]+$/ {print $3}' "$LAB_DIR/targets" | sort -un)
[ -n "$names" ] && [ -n "$tcp_ports" ] || { echo "FAIL: no names or ports in the profile"; cat "$LAB_DIR/targets"; exit 1; }

# A CA and a certificate for every name, so the TLS rules see a trusted chain.
pki=$LAB_DIR/pki
mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 400 -subj "/CN=Lab Root" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
san=$(for n in $names; do printf 'DNS:%s,' "$n"; done)
openssl req -newkey rsa:2048 -nodes -keyout "$pki/leaf.key" -out "$pki/leaf.csr" -subj "/CN=lab" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "${san%,}" >"$pki/leaf.ext"
openssl x509 -req -in "$pki/leaf.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -days 200 \
  -extfile "$pki/leaf.ext" -out "$pki/leaf.pem" 2>/dev/null || { echo "FAIL: lab certificate"; exit 1; }

# nginx: HTTPS on 443 with the suites the signalling policy allows, plain
# HTTP on every other TCP port the profile names.
mkdir -p "$LAB_DIR/nginx"
{
  echo "worker_processes 1; error_log $LAB_DIR/nginx/error.log;"
  echo "events { worker_connections 512; }"
  echo "http { access_log off;"
  for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $LAB_DIR/nginx/$t;"; done
  echo "  server { listen $WEBEX_IP:443 ssl; ssl_certificate $pki/leaf.pem; ssl_certificate_key $pki/leaf.key;"
  echo "    ssl_protocols TLSv1.2 TLSv1.3; ssl_prefer_server_ciphers on;"
  echo "    ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256;"
  echo "    return 200 ok; }"
  for port in $tcp_ports; do [ "$port" = 443 ] || echo "  server { listen $WEBEX_IP:$port; return 200 ok; }"; done
  echo "}"
} >"$LAB_DIR/nginx/nginx.conf"
lab_bg "$LAB_CLOUD" "$nginx" -p "$LAB_DIR/nginx" -c "$LAB_DIR/nginx/nginx.conf" -g "daemon off; pid $LAB_DIR/nginx/nginx.pid;"
WAIT_PID=$LAB_LAST_PID lab_wait_tcp "$WEBEX_IP" 443 || { cat "$LAB_DIR/nginx/error.log"; exit 1; }

# The responder with what the profile asks of it; a second one without a
# token for the peers (with a token, STUN and SIP answer only authenticated
# requests).
lab_start_responder --bind "$LAB_CLOUD_IP" --alt-address "$LAB_CLOUD_IP2" --stun-ports 5004,9000 \
  --udp-ports 8500-8699,19560-19661 --tcp-ports 8443,8934 --sip-ports 5060 || exit 1
lab_bg "$LAB_CLOUD" "$CALLREADY" respond --listen "$OPEN_IP:7448" --bind "$OPEN_IP" --sip-ports 5060 \
  --stun-ports 5004,9000
WAIT_PID=$LAB_LAST_PID lab_wait_tcp "$OPEN_IP" 7448 || exit 1

# dnsmasq answering every profile name but those given (which it refuses:
# no upstream); a plain resolver, not the lab's authoritative example.test.
start_dns() {  # names without an answer: $@
  local n
  [ -n "${DNS_PID:-}" ] && { kill "$DNS_PID" 2>/dev/null; wait "$DNS_PID" 2>/dev/null; }
  {
    echo "no-resolv"
    echo "no-hosts"
    echo "bind-interfaces"
    echo "listen-address=$LAB_DNS_IP"
    for n in $names; do [[ " $* " == *" $n "* ]] || echo "host-record=$n,$WEBEX_IP"; done
  } >"$LAB_DIR/dnsmasq-bench.conf"
  lab_bg "$LAB_CLOUD" dnsmasq --keep-in-foreground --conf-file="$LAB_DIR/dnsmasq-bench.conf" --user=root \
    --pid-file="$LAB_DIR/dnsmasq-bench.pid"
  DNS_PID=$LAB_LAST_PID
  local first
  first=$(echo "$names" | head -1)
  WAIT_PID=$DNS_PID wait_until 5 lab_client bash -c "$(declare -f dns_answers); dns_answers $LAB_DNS_IP 53 $first" ||
    { echo "FAIL: dnsmasq does not answer"; cat "$LAB_LAST_LOG"; exit 1; }
}

scan_args=(--profile webex-calling --set "calling_edge=$EDGE" --set "responder=$LAB_CLOUD_IP"
  --token "$LAB_TOKEN" --dns-server "$LAB_DNS_IP" --timeout 60 -q)
[ -n "$skipped" ] && scan_args+=(--skip "$skipped")
# One scan from the client namespace; its wall time in $scan_s, peak RSS (kB) in $scan_rss.
run_scan() {  # REPORT
  local t0 t1
  t0=$(date +%s.%N)
  lab_client env SSL_CERT_FILE="$pki/ca.pem" /usr/bin/time -f "%M" -o "$LAB_DIR/rss" \
    "$CALLREADY" scan "${scan_args[@]}" -o "$1" >/dev/null 2>"$LAB_DIR/scan.err"
  t1=$(date +%s.%N)
  scan_s=$(awk "BEGIN{print $t1 - $t0}")
  scan_rss=$(tail -1 "$LAB_DIR/rss")
  [ -s "$1" ] || { echo "FAIL: no report"; cat "$LAB_DIR/scan.err"; exit 1; }
}

# The peers, one after another, doing the same work; their summed wall time in $peer_s.
cat >"$LAB_DIR/options.xml" <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options">
  <send><![CDATA[
OPTIONS sip:mirror@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:bench@[local_ip]>;tag=[call_number]
To: <sip:mirror@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 OPTIONS
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" timeout="3000"/>
</scenario>
XML
# timed NAME COMMAND...: runs it, adds its wall time to PEER_TIME[NAME].
declare -A PEER_TIME
timed() {
  local name=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  PEER_TIME[$name]=$(awk "BEGIN{print ${PEER_TIME[$name]:-0} + $t1 - $t0}")
}
run_peers() {
  local n host port k
  PEER_TIME=()
  for n in $names; do timed dig lab_client dig +tries=1 +time=2 @"$LAB_DNS_IP" "$n" A; done
  while read -r kind host port; do
    case $kind in
      tcp) timed nc lab_client timeout 10 nc -z -w 3 "$host" "$port" ;;
      tls) timed sslscan lab_client timeout 60 sslscan --no-colour --sni-name="$host" "$host:$port" ;;
      stun) timed stunclient lab_client timeout 10 turnutils_stunclient -p "$port" "$OPEN_IP" ;;
    esac
  done < <(grep -E '^(tcp|tls|stun) ' "$LAB_DIR/targets")
  timed nmap lab_client timeout 130 nmap -sU -T4 -Pn -n --max-retries 1 --host-timeout 120s \
    -p 8500-8699,19560-19661 "$LAB_CLOUD_IP"
  timed tracepath lab_client timeout 30 tracepath -n "$LAB_CLOUD_IP"  # its own closed port: the host answers
  timed sipp lab_client timeout 10 sipp -sf "$LAB_DIR/options.xml" -m 1 -l 1 -timeout 5s -i "$LAB_CLIENT_IP" \
    -p 5099 -trace_err -error_file "$LAB_DIR/sipp.err" "$OPEN_IP:5060"
  peer_s=0
  for k in "${!PEER_TIME[@]}"; do peer_s=$(awk "BEGIN{print $peer_s + ${PEER_TIME[$k]}}"); done
  echo "peers: $(for k in dig nc sslscan stunclient nmap tracepath sipp; do printf '%s %.2f s  ' "$k" "${PEER_TIME[$k]:-0}"; done)"
}

# verdicts REPORT SITE: every check's status as the site says it must be.
verdicts() {
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); site = sys.argv[2]
status = {c["id"]: c["status"] for c in r["checks"]}
# The lab's addresses are not in the published subnets: those rules warn.
expect = {i: ("warn" if "subnets" in i else "pass") for i in status}
if site == "broken":
    for i in status:
        if i == "dns-a-activate-cisco-com" or i.startswith("tcp-activate-cisco-com"): expect[i] = "fail"
        if i == "dns-activate-cisco-com-in-published-subnets": expect[i] = "fail"
        if i == "tcp-calling-edge-8934": expect[i] = "fail"
        if i.startswith("udp-range-responder"): expect[i] = "fail"
        if i.startswith("pmtu-responder"): expect[i] = "warn"
        if i.startswith("dscp-responder"): expect[i] = None  # TCP 8934 to the responder is dropped too: not asserted
def as_expected(c):
    want = expect[c["id"]]
    if want is None: return True
    if c["status"] == want: return True
    # A check stopped by another's failure (a name that did not resolve) is
    # an error with reason dependency: right where a failure is expected.
    return want == "fail" and c["status"] == "error" and (c.get("error") or {}).get("reason") == "dependency"
wrong = [(c["id"], c["status"], expect[c["id"]], c.get("summary")) for c in r["checks"] if not as_expected(c)]
# The DROPped port is given up after max(4 x RTT, 250 ms): the scan has
# measured the RTT to that address by then (the other TCP ports there).
for c in r["checks"]:
    d = c.get("details") or {}
    if site == "broken" and c["id"] == "tcp-calling-edge-8934" and c["status"] == "fail":
        if d.get("wait_basis") != "rtt" or not 250 <= d.get("wait_ms", 0) <= 1000:
            wrong.append((c["id"], c["status"], "wait_basis rtt, wait_ms 250-1000", d.get("wait_basis"), d.get("wait_ms")))
if wrong:
    print(f"FAIL: {site}: checks not as expected:")
    for w in wrong: print("  ", w)
    sys.exit(1)
print(f"ok: {site}: {len(status)} checks as expected, verdict {r['verdict']}")
PY
}

# slowest REPORT: where a scan's time went: the five longest checks, and every
# check that gave up on silence with why it waited that long.
slowest() {
  python3 - "$1" <<'PY'
import json, sys
checks = sorted(json.load(open(sys.argv[1]))["checks"], key=lambda c: -c["duration_ms"])
# ...and every check that gave up on silence, with the rule it used.
for c in checks[:5] + [c for c in checks[5:] if "wait_ms" in (c.get("details") or {})]:
    d = c.get("details") or {}
    why = f" wait {d['wait_ms']} ms ({d['wait_basis']})" if "wait_ms" in d else ""
    print(f"  {c['duration_ms']:6d} ms  {c['id']}  {c['status']}{why}")
PY
}

fail=0
for site in healthy broken; do
  clear_scenarios
  if [ $site = healthy ]; then
    start_dns
  else
    start_dns activate.cisco.com
    drop_tcp_port 8934
    drop_udp_range 19600 19661
    set_wan_mtu 1400
  fi
  times=() peers=() rss=()
  for round in $(seq 1 "$ROUNDS"); do
    run_scan "$LAB_DIR/$site-$round.json"
    times+=("$scan_s")
    rss+=("$scan_rss")
    verdicts "$LAB_DIR/$site-$round.json" "$site" || fail=1
    slowest "$LAB_DIR/$site-$round.json"
    if ! bench_quick; then
      run_peers
      peers+=("$peer_s")
    fi
  done
  [ $site = broken ] && set_wan_mtu 1500
  cr=$(printf '%s\n' "${times[@]}" | median)
  max_rss=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
  echo "callready peak RSS ($site): $((max_rss / 1024)) MB"
  if bench_quick; then
    bench_row "webex-calling profile, $site site" "$cr" - -
  else
    bench_row "webex-calling profile, $site site" "$cr" "dig+nc+sslscan+stunclient+nmap+tracepath+sipp" \
      "$(printf '%s\n' "${peers[@]}" | median)"
  fi
done
exit $fail

#!/usr/bin/env bash
# BIND 9 in the cloud with a name of 70 A records (an answer too large for
# UDP: TC set, the client must retry over TCP 53). Through the lab router:
#  1. all open: all 70 addresses, as dig lists them, transport tcp, truncated;
#  2. TCP 53 DROPped: the finding says the answer was truncated and the TCP
#     retry failed (not "no answer from the DNS server"), while a small
#     answer still passes over UDP;
#  3. TCP 53 REJECTed with a reset: the same finding, naming the refusal.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v named >/dev/null || { echo "SKIP: bind9 not installed (scripts/install-deps.sh)"; exit 77; }
command -v dig >/dev/null || { echo "SKIP: dig not installed (scripts/install-deps.sh)"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1

NAMED_DIR="$LAB_DIR/named"
mkdir -p "$NAMED_DIR"
{
  echo '$TTL 300'
  echo '@ IN SOA ns1.many.test. admin.many.test. 1 3600 600 86400 300'
  echo '@ IN NS ns1.many.test.'
  echo "ns1 IN A $LAB_DNS_IP"
  echo 'small IN A 198.51.100.200'
  for i in $(seq 1 70); do echo "big IN A 198.51.100.$i"; done
} >"$NAMED_DIR/many.test.zone"
cat >"$NAMED_DIR/named.conf" <<CONF
options {
  directory "$NAMED_DIR"; pid-file "$NAMED_DIR/named.pid"; session-keyfile "$NAMED_DIR/session.key";
  listen-on port 53 { $LAB_DNS_IP; }; listen-on-v6 { none; };
  recursion no; dnssec-validation no; allow-query { any; };
};
controls { };
zone "many.test" { type primary; file "$NAMED_DIR/many.test.zone"; };
CONF
lab_bg "$LAB_CLOUD" named -g -n 1 -c "$NAMED_DIR/named.conf"
WAIT_PID=$LAB_LAST_PID wait_until 10 lab_client dig +short +tries=1 +time=1 @"$LAB_DNS_IP" small.many.test A >/dev/null ||
  { lab_log "named does not answer on $LAB_DNS_IP:53"; cat "$LAB_LAST_LOG" >&2; exit 1; }

dns_scan() {  # NAME
  lab_scan dns "{\"name\": \"$1\", \"type\": \"A\"}" --dns-server "$LAB_DNS_IP" --timeout 30
}

LAB_FAILED=0
DIG=$(lab_client dig +short +tries=1 +time=3 @"$LAB_DNS_IP" big.many.test A | sort | tr '\n' ' ')
dns_scan big.many.test || exit 1
lab_assert "$LAB_DIR/r.json" "' '.join(sorted(d['answers'])) + ' ' == '$DIG'" "all 70 addresses, as dig lists them"
lab_assert "$LAB_DIR/r.json" 'len(d["answers"]) == 70 and d["transport"] == "tcp" and d["truncated"] is True'

drop_tcp_port 53
dns_scan big.many.test || exit 1
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]] == ["dns.truncated_tcp_failed"]' "truncated, TCP retry failed (DROP)"
lab_assert "$LAB_DIR/r.json" '"timed out" in c["findings"][0]["message"] and d["truncated"] is True and d["transport"] == "tcp"'
lab_assert "$LAB_DIR/r.json" '"No answer" not in c["findings"][0]["message"]' "not reported as no answer"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][0]; print("DROP: %s (%d ms)" % (c["findings"][0]["message"], c["duration_ms"]))' "$LAB_DIR/r.json"
dns_scan small.many.test || exit 1
lab_assert "$LAB_DIR/r.json" 'c["status"] == "pass" and d["transport"] == "udp" and d["truncated"] is False' "UDP 53 itself works"

clear_scenarios
lab_router iptables -A FORWARD -i lan0 -p tcp --dport 53 -j REJECT --reject-with tcp-reset
dns_scan big.many.test || exit 1
lab_assert "$LAB_DIR/r.json" '[f["code"] for f in c["findings"]] == ["dns.truncated_tcp_failed"]' "truncated, TCP retry failed (REJECT)"
lab_assert "$LAB_DIR/r.json" '"refused" in c["findings"][0]["message"]'
exit $LAB_FAILED

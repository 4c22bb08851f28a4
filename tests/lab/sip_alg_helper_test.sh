#!/usr/bin/env bash
# The kernel's SIP ALG (nf_conntrack_sip + nf_nat_sip) on the NAT router, per
# LAB.md: off -> nothing rewritten; on for UDP 5060 -> Via, Contact, SDP o= and
# c=, Content-Length rewritten (From only from source port 5060) and the
# response's Via received= turned back into the private address; the same over
# TCP; port 5062 only with its own CT rule. Conntrack is flushed between runs.
# A wrong token is a set-up error, never an ALG finding.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v conntrack >/dev/null || { echo "SKIP: conntrack not installed"; exit 77; }
trap lab_cleanup EXIT
lab_up
lab_start_responder --sip-ports 5060,5062 --bind 203.0.113.10 || exit 1

helper() { lab_router iptables -t raw -A PREROUTING -i lan0 -p "$1" --dport "$2" -j CT --helper sip; }
reset_alg() {
  lab_router iptables -t raw -F PREROUTING
  lab_router conntrack -F >/dev/null 2>&1
  lab_router conntrack -F expect >/dev/null 2>&1
}
# scan NAME PARAMS_JSON [TOKEN] -> $LAB_DIR/NAME.json
scan() {
  lab_profile "$LAB_DIR/$1.p.json" sip_alg "$2"
  lab_client "$CALLREADY" scan --profile "$LAB_DIR/$1.p.json" --token "${3:-$LAB_TOKEN}" -o "$LAB_DIR/$1.json" \
    >"$LAB_DIR/$1.out" 2>&1
  [ -s "$LAB_DIR/$1.json" ] || { cat "$LAB_DIR/$1.out"; exit 1; }
}
# The rewritten fields of one attempt: att(METHOD, SOURCE) where SOURCE is 5060 or "ephemeral".
ATT='(lambda m, s: [a for a in d["attempts"] if a["method"] == m and a["source_port"] == s][0]["rewritten"])'
INVITE_ALG='["Via", "Contact", "Content-Length", "o=", "c="]'
INVITE_ALG_5060='["Via", "From", "Contact", "Content-Length", "o=", "c="]'

LAB_FAILED=0
echo "--- helper off"
reset_alg
scan off '{"host": "203.0.113.10", "transport": "both"}'
lab_assert "$LAB_DIR/off.json" 'd["alg_detected"] is False and d["rewritten"] == []'
lab_assert "$LAB_DIR/off.json" 'all(a["outcome"] == "mirrored" for a in d["attempts"]) and len(d["attempts"]) == 8'
lab_assert "$LAB_DIR/off.json" 'd["observed_source"].startswith("203.0.113.1:")' "the mirror saw the NAT address"
lab_assert "$LAB_DIR/off.json" 'd["sent"] == d["received"] and d["sent"]["c="] == "IN IP4 198.18.0.2"'
lab_assert "$LAB_DIR/off.json" 'c["findings"] == [] and c["status"] == "pass"'
scan badtoken '{"host": "203.0.113.10", "transport": "both"}' wrong-token
lab_assert "$LAB_DIR/badtoken.json" 'c["status"] == "error" and c["error"]["reason"] == "setup" and c["error"]["operation"] == "control"'
lab_assert "$LAB_DIR/badtoken.json" 'c["findings"] == [] and d.get("attempts", []) == []' "no SIP sent with a rejected token"

echo "--- helper on UDP 5060"
reset_alg
helper udp 5060
scan udp '{"host": "203.0.113.10", "transport": "both"}'
lab_assert "$LAB_DIR/udp.json" 'd["alg_detected"] is True'
lab_assert "$LAB_DIR/udp.json" "$ATT('INVITE', 5060) == $INVITE_ALG_5060 and d['attempts'][0]['transport'] == 'udp'"
lab_assert "$LAB_DIR/udp.json" "$ATT('INVITE', 'ephemeral') == $INVITE_ALG"
lab_assert "$LAB_DIR/udp.json" 'd["rewritten"] == ["Via", "From", "Contact", "Content-Length", "o=", "c="]'
lab_assert "$LAB_DIR/udp.json" 'all(a["rewritten"] == [] for a in d["attempts"] if a["transport"] == "tcp")' "TCP untouched without its rule"
lab_assert "$LAB_DIR/udp.json" 'd["received"]["c="] == "IN IP4 203.0.113.1" and d["sent"]["c="] == "IN IP4 198.18.0.2"'
lab_assert "$LAB_DIR/udp.json" 'd["response_via_rewritten"] is True'
lab_assert "$LAB_DIR/udp.json" '[f["code"] for f in c["findings"]] == ["sip_alg.detected", "sip_alg.response_rewritten"]'
lab_assert "$LAB_DIR/udp.json" 'c["findings"][0]["severity"] == "critical" and c["findings"][0]["remediation"].startswith("Disable SIP ALG / SIP inspection")'

echo "--- helper on TCP 5060 too"
reset_alg
helper udp 5060
helper tcp 5060
scan tcp '{"host": "203.0.113.10", "transport": "tcp"}'
lab_assert "$LAB_DIR/tcp.json" 'd["alg_detected"] is True and d["transport"] == "tcp"'
lab_assert "$LAB_DIR/tcp.json" "$ATT('INVITE', 5060) == $INVITE_ALG_5060"
lab_assert "$LAB_DIR/tcp.json" "$ATT('INVITE', 'ephemeral') == $INVITE_ALG"

echo "--- port 5062: untouched with the 5060 rule only, rewritten with its own rule"
reset_alg
helper udp 5060
scan p5062 '{"host": "203.0.113.10", "port": 5062, "source_port": 0}'
lab_assert "$LAB_DIR/p5062.json" 'd["alg_detected"] is False and d["rewritten"] == []'
reset_alg
helper udp 5062
scan p5062on '{"host": "203.0.113.10", "port": 5062, "source_port": 0}'
lab_assert "$LAB_DIR/p5062on.json" 'd["alg_detected"] is True'
lab_assert "$LAB_DIR/p5062on.json" "$ATT('INVITE', 'ephemeral') == $INVITE_ALG"
reset_alg
exit $LAB_FAILED

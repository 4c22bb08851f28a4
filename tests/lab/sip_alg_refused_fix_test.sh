#!/usr/bin/env bash
# Issue 20, defect 7, against the real path: the router REJECTs SIP (UDP
# 5060) towards a responder that serves it, so the check cannot tell whether a
# SIP ALG is on the path (sip_alg.refused). Its fix must be its own ("allow
# SIP to the responder"), not the rule's "Disable SIP ALG", which belongs only
# to findings that mean an ALG was seen.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up
lab_start_responder --sip-ports 5060 --bind 203.0.113.10 || exit 1
reject_udp_range 5060 5060

cat >"$LAB_DIR/p.json" <<JSON
{"name": "lab-sip-alg-fix", "description": "lab test", "variables": {},
 "checks": [{"id": "sip_alg", "kind": "sip_alg", "category": "signalling", "severity": "warning",
             "params": {"host": "$LAB_CLOUD_IP", "port": 5060, "transport": "udp"},
             "requirement": {"text": "No SIP ALG on the path", "source": "tests/lab"},
             "remediation": "Disable SIP ALG on the site's router"}]}
JSON
lab_client "$CALLREADY" scan --profile "$LAB_DIR/p.json" --token "$LAB_TOKEN" -o "$LAB_DIR/r.json" \
  >"$LAB_DIR/scan.out" 2>&1
[ -s "$LAB_DIR/r.json" ] || { cat "$LAB_DIR/scan.out"; exit 1; }

LAB_FAILED=0
F='[f for f in c["findings"] if f["code"] == "sip_alg.refused"]'
lab_assert "$LAB_DIR/r.json" "len($F) == 1" "the REJECT is reported as sip_alg.refused"
lab_assert "$LAB_DIR/r.json" "$F[0].get('inconclusive') is True" "it is marked inconclusive (could not tell)"
lab_assert "$LAB_DIR/r.json" "$F[0]['remediation'].startswith('Allow SIP (UDP and TCP 5060)')" "it keeps its own fix"
lab_assert "$LAB_DIR/r.json" "'Disable SIP ALG' not in json.dumps(c)" "the rule's fix is nowhere on the check"
lab_assert "$LAB_DIR/r.json" "$F[0]['requirement'] == 'No SIP ALG on the path [tests/lab]'" "it still cites the rule"
exit $LAB_FAILED

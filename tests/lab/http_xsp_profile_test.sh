#!/usr/bin/env bash
# The built-in broadworks-xsp profile against a lab XSP: nginx on
# 203.0.113.10 and .11 (HTTPS 443, certificate from a lab CA the probe does
# not trust), dnsmasq with _xsi-client._tcp.app.example.test -> xsp1 (.10)
# and xsp2 (.11), xsp.example.test on both addresses, chronyd on both addresses.
# The Xsi rules run against every address and every SRV target; .11 answers
# Xsi-Events with a redirect. Asserted: which rules pass and which findings
# each one names; the untrusted lab certificate is the one expected warning.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
. "$SOURCE_DIR/tests/lab/http_xsp_lib.sh"
xsp_require_nginx
for tool in dnsmasq chronyd; do
  command -v $tool >/dev/null || { echo "SKIP: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done
trap lab_cleanup EXIT
lab_up || exit 1
xsp_make_pki "DNS:xsp.example.test,DNS:app.example.test" || exit 1

tls="ssl_certificate $PKI/xsp.pem; ssl_certificate_key $PKI/xsp.key; ssl_protocols TLSv1.2;
    ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256; ssl_prefer_server_ciphers on;"
xsp_start_nginx "$LAB_CLOUD_IP:443" "$LAB_CLOUD_IP2:443" <<CONF || exit 1
  server { listen $LAB_CLOUD_IP:443 ssl; $tls
    location / { return 200 "ok\n"; } }
  server { listen $LAB_CLOUD_IP2:443 ssl; $tls
    location /com.broadsoft.xsi-events/ { return 302 https://proxy.example.test/xsi-events/; }
    location / { return 200 "ok\n"; } }
CONF

# chronyd on both addresses: the ntp rule asks whichever the name gives first.
for address in "$LAB_CLOUD_IP" "$LAB_CLOUD_IP2"; do
  cat >"$LAB_DIR/chrony-$address.conf" <<CONF
local stratum 8
allow all
bindaddress $address
port 123
cmdport 0
pidfile $LAB_DIR/chrony-$address.pid
driftfile $LAB_DIR/chrony-$address.drift
CONF
  lab_bg "$LAB_CLOUD" chronyd -d -x -f "$LAB_DIR/chrony-$address.conf"
done
ntp_answers() {  # one client-mode request from the client namespace, 0.5 s
  lab_client python3 -c "
import os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.5)
s.sendto(bytes([0x23]) + bytes(39) + os.urandom(8), (sys.argv[1], 123))
s.recvfrom(512)" "$1" 2>/dev/null
}
for address in "$LAB_CLOUD_IP" "$LAB_CLOUD_IP2"; do
  wait_until 10 ntp_answers "$address" || { lab_log "chronyd on $address does not answer"; cat "$LAB_DIR"/*.log >&2; exit 1; }
done
lab_start_dns "host-record=xsp.example.test,$LAB_CLOUD_IP" "host-record=xsp.example.test,$LAB_CLOUD_IP2" \
  "host-record=xsp1.example.test,$LAB_CLOUD_IP" "host-record=xsp2.example.test,$LAB_CLOUD_IP2" \
  "srv-host=_xsi-client._tcp.app.example.test,xsp1.example.test,443,10,10" \
  "srv-host=_xsi-client._tcp.app.example.test,xsp2.example.test,443,20,10" || exit 1

rm -f "$LAB_DIR/r.json"
lab_client "$CALLREADY" scan --profile broadworks-xsp --set xsi_domain=app.example.test --set xsp_host=xsp.example.test \
  --dns-server "$LAB_DNS_IP" --timeout 60 -o "$LAB_DIR/r.json" >"$LAB_DIR/scan.out" 2>&1
[ -s "$LAB_DIR/r.json" ] || { cat "$LAB_DIR/scan.out" >&2; exit 1; }
python3 - "$LAB_DIR/r.json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
checks = {c["id"]: c for c in r["checks"]}
failed = []
def codes(i, severities=("warning", "critical")):
    return sorted(f["code"] for f in checks[i]["findings"] if f["severity"] in severities)
def expect(what, ok):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failed.append(what)
for i, c in checks.items():
    print(f"  {i}: {c['status']} {codes(i)} - {c['summary'][:110]}")
untrusted = ["http.certificate_untrusted", "http.certificate_untrusted"]
expect("SRV rule: both targets in order, each at 443", [(a["target"], a["address"], a["port"]) for a in checks["http-xsi-actions-srv"]["details"]["addresses"]] == [("xsp1.example.test", "203.0.113.10", 443), ("xsp2.example.test", "203.0.113.11", 443)])
expect("SRV rule: only the lab certificate is said", codes("http-xsi-actions-srv") == untrusted)
expect("Xsi-Actions at both addresses of the XSP host", codes("http-xsi-actions") == untrusted and len(checks["http-xsi-actions"]["details"]["addresses"]) == 2)
expect("Xsi-Events: the redirect on .11 named", codes("http-xsi-events") == ["http.certificate_untrusted", "http.certificate_untrusted", "http.redirect"] and checks["http-xsi-events"]["status"] == "fail")
expect("the XSP's NTP answered in time", checks["ntp-xsp-host"]["status"] == "pass" and checks["ntp-xsp-host"]["details"]["stratum"] == 8)
expect("SRV DNS rule passes (one address per target)", checks["dns-srv-xsi-client"]["status"] == "pass")
sys.exit(1 if failed else 0)
PY

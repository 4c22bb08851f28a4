#!/usr/bin/env bash
# The `http` check against nginx playing an XSP in the cloud namespace, on two
# addresses (203.0.113.10 and .11 behind xsp.example.test, dnsmasq in the
# cloud), reached from the client through the NAT router:
#  1. GET /: 200 on .10; 503 on .11, tried 3 times, blocked: http.server_error;
#  2. GET /old: 301 on both, each with its Location: http.redirect twice;
#  3. GET /slow: .11 answers after 3 s (nginx waiting on a silent upstream),
#     over the 2 s clients wait: http.slow on .11 only, .10 fast;
#  4. https://cti.example.test:8443/: ssl_verify_client with its CA list:
#     the client certificate is asked for, the CA named, mutual TLS passes;
#  5. SRV _xsi-client._tcp.app.example.test -> xsp1 (.10, priority 10) and
#     xsp2 (.11, priority 20) on port 8080: per target, per address, in
#     RFC 2782 order, at the SRV port.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
. "$SOURCE_DIR/tests/lab/http_xsp_lib.sh"
xsp_require_nginx
command -v dnsmasq >/dev/null || { echo "SKIP: dnsmasq not installed (dnsmasq-base)"; exit 77; }
trap lab_cleanup EXIT
lab_up || exit 1
xsp_make_pki "DNS:cti.example.test,DNS:xsp.example.test" || exit 1

# --- a silent upstream: accepts (kernel backlog) and never answers ------------
SILENT_PORT=9099
lab_bg "$LAB_CLOUD" timeout 120 python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $SILENT_PORT)); s.listen(16); time.sleep(120)"

xsp_start_nginx "$LAB_CLOUD_IP:80" "$LAB_CLOUD_IP2:80" "$LAB_CLOUD_IP:8443" <<CONF || exit 1
  server { listen $LAB_CLOUD_IP:80; listen $LAB_CLOUD_IP:8080;
    location / { return 200 "ok\n"; }
    location /old { return 301 https://elsewhere.example.test/new; }
    location /slow { return 200 "fast\n"; } }
  server { listen $LAB_CLOUD_IP2:80; listen $LAB_CLOUD_IP2:8080;
    location / { return 503; }
    location /old { return 301 https://elsewhere.example.test/new; }
    location /slow { proxy_pass http://127.0.0.1:$SILENT_PORT; proxy_read_timeout 3s; error_page 504 =200 @late; }
    location @late { return 200 "late\n"; } }
  server { listen $LAB_CLOUD_IP:8443 ssl;
    ssl_certificate $PKI/xsp.pem; ssl_certificate_key $PKI/xsp.key; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_verify_client on; ssl_client_certificate $PKI/clientca.pem;
    location / { return 200 "ok\n"; } }
CONF

lab_start_dns "host-record=xsp.example.test,$LAB_CLOUD_IP" "host-record=xsp.example.test,$LAB_CLOUD_IP2" \
  "host-record=cti.example.test,$LAB_CLOUD_IP" \
  "host-record=xsp1.example.test,$LAB_CLOUD_IP" "host-record=xsp2.example.test,$LAB_CLOUD_IP2" \
  "srv-host=_xsi-client._tcp.app.example.test,xsp2.example.test,8080,20,10" \
  "srv-host=_xsi-client._tcp.app.example.test,xsp1.example.test,8080,10,10" || exit 1

http_scan() { lab_scan http "$1" --dns-server "$LAB_DNS_IP" --timeout 40; }
at() { echo "[a for a in d['addresses'] if a['address'] == '$1'][0]"; }
codes='[f["code"] for f in c["findings"]]'
LAB_FAILED=0
XSI=/com.broadsoft.xsi-actions/v2.0/versions

http_scan "{\"url\": \"http://xsp.example.test$XSI\", \"proxy\": \"direct\"}" || exit 1
lab_assert "$LAB_DIR/r.json" "sorted(a['address'] for a in d['addresses']) == ['$LAB_CLOUD_IP', '$LAB_CLOUD_IP2']" "both addresses of the name tried"
lab_assert "$LAB_DIR/r.json" "$(at $LAB_CLOUD_IP)['status'] == 200 and $(at $LAB_CLOUD_IP)['blocked'] is False" "200 on $LAB_CLOUD_IP"
lab_assert "$LAB_DIR/r.json" "$(at $LAB_CLOUD_IP)['server'].startswith('nginx') and abs($(at $LAB_CLOUD_IP)['date_offset_s']) < 2" "Server and Date read"
lab_assert "$LAB_DIR/r.json" "$(at $LAB_CLOUD_IP2)['status'] == 503 and $(at $LAB_CLOUD_IP2)['blocked'] is True and len($(at $LAB_CLOUD_IP2)['attempts']) == 3" "503 on $LAB_CLOUD_IP2, 3 tries, blocked"
lab_assert "$LAB_DIR/r.json" "$codes == ['http.server_error'] and c['findings'][0]['severity'] == 'warning' and c['status'] == 'warn'" "http.server_error, a warning: the other address works"

http_scan '{"url": "http://xsp.example.test/old", "proxy": "direct"}' || exit 1
lab_assert "$LAB_DIR/r.json" "$codes == ['http.redirect', 'http.redirect'] and c['status'] == 'fail'" "301 on both addresses: http.redirect twice"
lab_assert "$LAB_DIR/r.json" "all(a['status'] == 301 and a['location'] == 'https://elsewhere.example.test/new' for a in d['addresses'])" "each with its Location"

http_scan '{"url": "http://xsp.example.test/slow", "proxy": "direct", "tries": 1}' || exit 1
echo "slow: $LAB_CLOUD_IP2 first byte after $(python3 -c "import json; d=json.load(open('$LAB_DIR/r.json'))['checks'][0]['details']; print($(at $LAB_CLOUD_IP2)['ttfb_ms'])") ms"
lab_assert "$LAB_DIR/r.json" "$codes == ['http.slow'] and '$LAB_CLOUD_IP2' in c['findings'][0]['message']" "http.slow names $LAB_CLOUD_IP2"
lab_assert "$LAB_DIR/r.json" "2900 <= $(at $LAB_CLOUD_IP2)['ttfb_ms'] < 4500 and $(at $LAB_CLOUD_IP2)['blocked'] is True" "3 s late, blocked"
lab_assert "$LAB_DIR/r.json" "$(at $LAB_CLOUD_IP)['ttfb_ms'] < 500 and $(at $LAB_CLOUD_IP)['blocked'] is False" "$LAB_CLOUD_IP answers at once"

http_scan "{\"url\": \"https://cti.example.test:8443/\", \"proxy\": \"direct\", \"require_client_cert\": true, \"ca_file\": \"$PKI/root.pem\"}" || exit 1
lab_assert "$LAB_DIR/r.json" "$(at $LAB_CLOUD_IP)['client_cert_requested'] is True and $(at $LAB_CLOUD_IP)['client_ca_names'] == ['CN=Lab XSP Client CA,O=Lab']" "client certificate asked for, naming the CA"
lab_assert "$LAB_DIR/r.json" "$(at $LAB_CLOUD_IP)['status'] == 400 and $(at $LAB_CLOUD_IP)['certificate_verified'] is True and $(at $LAB_CLOUD_IP)['tls_version'] == 'TLSv1.3'" "nginx answers 400 without one; its certificate verified"
lab_assert "$LAB_DIR/r.json" "$codes == [] and c['status'] == 'pass'" "mutual TLS demanded: passes"

http_scan "{\"url\": \"http://app.example.test$XSI\", \"srv\": \"_xsi-client._tcp.app.example.test\", \"proxy\": \"direct\"}" || exit 1
lab_assert "$LAB_DIR/r.json" "[t['target'] for t in d['srv']['targets']] == ['xsp1.example.test', 'xsp2.example.test'] and d['srv']['fallback'] is False" "SRV targets in RFC 2782 order"
lab_assert "$LAB_DIR/r.json" "[(a['target'], a['address'], a['port'], a['status']) for a in d['addresses']] == [('xsp1.example.test', '$LAB_CLOUD_IP', 8080, 200), ('xsp2.example.test', '$LAB_CLOUD_IP2', 8080, 503)]" "per target, per address, at the SRV port"
lab_assert "$LAB_DIR/r.json" "$codes == ['http.server_error'] and 'xsp2.example.test ($LAB_CLOUD_IP2 port 8080)' in c['findings'][0]['message']" "the failing target named"
exit $LAB_FAILED

#!/usr/bin/env bash
# The proxy check against squid (Debian squid-openssl) on the NAT router, in
# each of the modes the issue names, and with no proxy at all:
#   none        -> nothing reported (no false positive), the TLS key learned
#                  from the plain echo and matched;
#   explicit    -> CONNECT through squid:3128 (named by HTTPS_PROXY) works,
#                  the proxy is named, TLS through it is not intercepted;
#   bumping     -> squid:3133 bumps what it CONNECTs (explicit ssl-bump):
#                  interception through the tunnel, direct TLS untouched;
#   auth        -> squid:3131 demands Basic auth (basic_ncsa_auth): 407 named,
#                  and the same proxy with the right credentials lets CONNECT through;
#   intercept   -> port 80 REDIRECTed to squid's intercept port: the request
#                  arrives with Via/X-Forwarded-For added (transparent proxy);
#   ssl-bump    -> port 443 REDIRECTed to squid's ssl-bump port with its own
#                  CA: TLS interception, the CA named as the issuer, and the
#                  target's chain not among the expected issuers;
#   wpad        -> wpad.<search domain>/wpad.dat (dnsmasq, python's web
#                  server) fetched and its PROXY directive read, not run.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
command -v squid >/dev/null || { echo "SKIP: squid not installed (squid-openssl)"; exit 77; }
CERTGEN=/usr/lib/squid/security_file_certgen
[ -x "$CERTGEN" ] || { echo "SKIP: $CERTGEN missing (squid-openssl)"; exit 77; }
squid -v | grep -q -- '--with-openssl' || { echo "SKIP: this squid has no OpenSSL (install squid-openssl)"; exit 77; }
trap lab_cleanup EXIT
lab_up
lab_start_responder --http-ports 80 --https-ports 443 --bind "$LAB_CLOUD_IP" || exit 1

# --- squid on the router: explicit 3128, explicit with auth 3131, intercept
#     3129 (HTTP), intercept + ssl-bump 3130 (HTTPS) -------------------------
SQ="$LAB_DIR/squid"
mkdir -p "$SQ"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/O=Lab/CN=Lab Squid Inspection CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$SQ/ca.key" -out "$SQ/ca.pem" 2>/dev/null || { echo "FAIL: cannot make the squid CA"; exit 1; }
printf 'labuser:%s\n' "$(openssl passwd -apr1 lab-secret)" >"$SQ/htpasswd"
"$CERTGEN" -c -s "$SQ/ssl_db" -M 4MB >/dev/null 2>&1 || { echo "FAIL: security_file_certgen -c"; exit 1; }
lab_start_squid 3130 <<CONF || exit 1
http_port $LAB_ROUTER_LAN_IP:3128
http_port $LAB_ROUTER_LAN_IP:3131
http_port $LAB_ROUTER_LAN_IP:3129 intercept
http_port $LAB_ROUTER_LAN_IP:3133 ssl-bump tls-cert=$SQ/ca.pem tls-key=$SQ/ca.key generate-host-certificates=on
https_port $LAB_ROUTER_LAN_IP:3130 intercept ssl-bump tls-cert=$SQ/ca.pem tls-key=$SQ/ca.key generate-host-certificates=on
sslcrtd_program $CERTGEN -s $SQ/ssl_db -M 4MB
sslcrtd_children 2 startup=1 idle=1
ssl_bump bump all
tls_outgoing_options flags=DONT_VERIFY_PEER
sslproxy_cert_error allow all
auth_param basic program /usr/lib/squid/basic_ncsa_auth $SQ/htpasswd
auth_param basic realm lab
acl authport localport 3131
acl authed proxy_auth REQUIRED
http_access allow authport authed
http_access deny authport
http_access allow all
CONF

# scan NAME PARAMS_JSON [ENV...] -> $LAB_DIR/NAME.json
scan() {
  local name="$1" params="$2"
  shift 2
  lab_profile "$LAB_DIR/$name.p.json" proxy "$params"
  lab_client env -u HTTPS_PROXY -u https_proxy -u HTTP_PROXY -u http_proxy -u NO_PROXY -u no_proxy "$@" \
    "$CALLREADY" scan --profile "$LAB_DIR/$name.p.json" --token "$LAB_TOKEN" -o "$LAB_DIR/$name.json" \
    >"$LAB_DIR/$name.out" 2>&1
  [ -s "$LAB_DIR/$name.json" ] || { cat "$LAB_DIR/$name.out"; exit 1; }
}
codes() { echo "sorted(f[\"code\"] for f in c[\"findings\"]) == $1"; }
ECHO_ISSUER='"expected_issuers": ["callready HTTPS echo"]'
TARGET="\"targets\": [\"$LAB_CLOUD_IP:443\"]"

LAB_FAILED=0
echo "--- no proxy"
scan none "{\"host\": \"$LAB_CLOUD_IP\", $TARGET, $ECHO_ISSUER}"
lab_assert "$LAB_DIR/none.json" 'c["status"] == "pass" and c["findings"] == []' "no proxy: nothing reported"
lab_assert "$LAB_DIR/none.json" 'd["transparent_proxy"] is False and d["tls_intercepted"] is False and d["explicit_proxy"] is None'
lab_assert "$LAB_DIR/none.json" 'd["headers_added"] == [] and d["headers_changed"] == [] and d["headers_removed"] == []'
lab_assert "$LAB_DIR/none.json" 'd["pin_source"] == "control" and d["echo_source"] == d["observed_address"] == "203.0.113.1"' "pin learned, NAT address seen by both"
lab_assert "$LAB_DIR/none.json" 'd["exchanges"][0]["sent"] == d["exchanges"][0]["received"]' "the head arrived byte for byte"
lab_assert "$LAB_DIR/none.json" 'd["targets"][0]["expected_issuer"] is True and d["targets"][0]["via"] == "direct"'

echo "--- explicit proxy (HTTPS_PROXY), no auth"
scan explicit "{\"host\": \"$LAB_CLOUD_IP\", $TARGET, $ECHO_ISSUER}" HTTPS_PROXY="http://$LAB_ROUTER_LAN_IP:3128"
lab_assert "$LAB_DIR/explicit.json" "d['explicit_proxy'].rstrip('/') == 'http://$LAB_ROUTER_LAN_IP:3128' and d['proxy_source'] == 'HTTPS_PROXY'"
lab_assert "$LAB_DIR/explicit.json" 'd["targets"][0]["connect_status"] == 200 and d["targets"][0]["expected_issuer"] is True'
lab_assert "$LAB_DIR/explicit.json" '[e["outcome"] for e in d["exchanges"]] == ["ok", "ok", "ok"] and d["exchanges"][2]["via"].rstrip("/").endswith(":3128")' "TLS echo through the tunnel"
lab_assert "$LAB_DIR/explicit.json" 'd["tls_intercepted"] is False and d["transparent_proxy"] is False'
lab_assert "$LAB_DIR/explicit.json" "$(codes '["proxy.explicit"]')"
echo "--- NO_PROXY exempts the targets"
scan noproxy "{\"host\": \"$LAB_CLOUD_IP\", $TARGET}" HTTPS_PROXY="http://$LAB_ROUTER_LAN_IP:3128" NO_PROXY="203.0.113.0/24"
lab_assert "$LAB_DIR/noproxy.json" 'd["explicit_proxy"] is None and d["targets"][0]["via"] == "direct" and d["proxy_exempted_by"] == "203.0.113.0/24"'

echo "--- explicit proxy demanding Basic auth"
scan auth "{\"host\": \"$LAB_CLOUD_IP\", $TARGET, \"proxy\": \"http://$LAB_ROUTER_LAN_IP:3131\"}"
lab_assert "$LAB_DIR/auth.json" 'd["targets"][0]["connect_status"] == 407 and d["targets"][0]["proxy_auth_scheme"] == "Basic"'
lab_assert "$LAB_DIR/auth.json" "$(codes '["proxy.auth_required", "proxy.explicit"]')"
lab_assert "$LAB_DIR/auth.json" 'c["status"] == "fail" and d["exchanges"][2]["connect_status"] == 407'
lab_assert "$LAB_DIR/auth.json" '"https echo, 203.0.113.10:443" in [f for f in c["findings"] if f["code"] == "proxy.auth_required"][0]["message"]' "one 407 finding names the echo and the target"
scan authok "{\"host\": \"$LAB_CLOUD_IP\", $TARGET, \"proxy\": \"http://labuser:lab-secret@$LAB_ROUTER_LAN_IP:3131\"}"
lab_assert "$LAB_DIR/authok.json" 'd["targets"][0]["connect_status"] == 200 and "lab-secret" not in json.dumps(d)' "credentials accepted, never reported"

echo "--- intercepting proxy (REDIRECT of port 80)"
lab_router iptables -t nat -I PREROUTING -i lan0 -p tcp --dport 80 -j REDIRECT --to-ports 3129
scan intercept "{\"host\": \"$LAB_CLOUD_IP\"}"
lab_assert "$LAB_DIR/intercept.json" 'd["transparent_proxy"] is True and "Via" in d["headers_added"] and "X-Forwarded-For" in d["headers_added"]'
lab_assert "$LAB_DIR/intercept.json" '"proxy.headers_altered" in [f["code"] for f in c["findings"]] and c["status"] == "fail"'
lab_assert "$LAB_DIR/intercept.json" 'd["tls_intercepted"] is False' "port 443 untouched"
lab_router iptables -t nat -D PREROUTING -i lan0 -p tcp --dport 80 -j REDIRECT --to-ports 3129

echo "--- ssl-bump (REDIRECT of port 443, squid's own CA)"
lab_router iptables -t nat -I PREROUTING -i lan0 -p tcp --dport 443 -j REDIRECT --to-ports 3130
scan bump "{\"host\": \"$LAB_CLOUD_IP\", $TARGET, $ECHO_ISSUER}"
lab_assert "$LAB_DIR/bump.json" 'd["tls_intercepted"] is True and d["interceptor_issuer"] == "Lab Squid Inspection CA"'
lab_assert "$LAB_DIR/bump.json" 'd["targets"][0]["expected_issuer"] is False'
lab_assert "$LAB_DIR/bump.json" '{"proxy.tls_intercepted", "proxy.target_intercepted"} <= set(f["code"] for f in c["findings"])'
lab_assert "$LAB_DIR/bump.json" 'd["exchanges"][0]["sent"] == d["exchanges"][0]["received"]' "plain HTTP untouched"
lab_router iptables -t nat -D PREROUTING -i lan0 -p tcp --dport 443 -j REDIRECT --to-ports 3130

echo "--- explicit proxy that bumps CONNECT (ssl-bump on the explicit port)"
scan xbump "{\"host\": \"$LAB_CLOUD_IP\", $TARGET, $ECHO_ISSUER, \"proxy\": \"http://$LAB_ROUTER_LAN_IP:3133\"}"
lab_assert "$LAB_DIR/xbump.json" 'd["tls_intercepted"] is True and d["interceptor_issuer"] == "Lab Squid Inspection CA"'
lab_assert "$LAB_DIR/xbump.json" 'd["exchanges"][1]["chain"][0]["issuer"] == "CN=callready HTTPS echo" and d["exchanges"][2]["chain"][0]["issuer"] == "CN=Lab Squid Inspection CA,O=Lab"' "direct TLS untouched, the tunnel bumped"
lab_assert "$LAB_DIR/xbump.json" 'd["targets"][0]["expected_issuer"] is False and d["targets"][0]["connect_status"] == 200'

echo "--- WPAD: wpad.<search domain>/wpad.dat found through DNS, read and never run"
lab_start_dns "host-record=wpad.example.test,$LAB_CLOUD_IP2" || exit 1
echo "search sub.example.test" >>"/etc/netns/$LAB_CLIENT/resolv.conf"
mkdir -p "$LAB_DIR/web"
printf 'function FindProxyForURL(url, host) { return "PROXY %s:3128; DIRECT"; }\n' "$LAB_ROUTER_LAN_IP" >"$LAB_DIR/web/wpad.dat"
lab_bg "$LAB_CLOUD" python3 -m http.server --bind "$LAB_CLOUD_IP2" --directory "$LAB_DIR/web" 80
WAIT_PID=$LAB_LAST_PID lab_wait_tcp "$LAB_CLOUD_IP2" 80 || exit 1
scan wpad "{\"host\": \"$LAB_CLOUD_IP\", \"wpad\": true}"
lab_assert "$LAB_DIR/wpad.json" '[p["url"] for p in d["pac"]] == ["http://wpad.sub.example.test/wpad.dat", "http://wpad.example.test/wpad.dat"]' "the search domain climbed"
lab_assert "$LAB_DIR/wpad.json" 'd["pac"][0]["outcome"] == "failed" and d["pac"][1]["outcome"] == "ok" and d["pac"][1]["proxies"] == ["198.18.0.1:3128"]'
lab_assert "$LAB_DIR/wpad.json" "$(codes '["proxy.pac_found"]')"

[ "$LAB_FAILED" = 0 ] || { cat "$SQ/cache.log" >&2; exit 1; }
echo "proxy_squid: all passed"

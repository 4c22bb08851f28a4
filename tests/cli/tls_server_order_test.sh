#!/usr/bin/env bash
# The tls check's server order against testssl.sh's, on the same nginx: one
# server with `ssl_prefer_server_ciphers on` and a deliberate order for TLS 1.2
# (not OpenSSL's default order) and TLS 1.3 (`ssl_conf_command Ciphersuites`),
# one with the same suites and no server preference. With preference, the
# order callready reports per version must equal testssl.sh's `cipherorder_*`
# (`-P`), and both must say the server has an order; without, both must say
# it has none. Loopback only; nginx is killed by PID.
set -u
CALLREADY="${CALLREADY:-$(dirname "$0")/../../build/callready}"
SOURCE_DIR="${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
. "$SOURCE_DIR/tests/support/lib.sh"
testssl=$(command -v testssl || command -v testssl.sh)
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -n "$testssl" ] || { echo "SKIP: testssl.sh missing (Debian package testssl.sh)"; exit 77; }
[ -x "$nginx" ] || { echo "SKIP: nginx missing"; exit 77; }
for p in openssl python3; do command -v "$p" >/dev/null || { echo "SKIP: $p missing"; exit 77; }; done
tmp=$(mktemp -d)
nginx_pid=
testssl_pids=()
cleanup() {
  local p
  for p in "${testssl_pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$nginx_pid" ] && { kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; }
  rm -rf "$tmp"
}
trap cleanup EXIT

bash "$SOURCE_DIR/tests/fixtures/tls/make_certs.sh" "$tmp/pki" >/dev/null
cat "$tmp/pki/leaf.pem" "$tmp/pki/inter.pem" >"$tmp/pki/chain.pem"
TLS12_ORDER="AES128-SHA:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-SHA256:AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
TLS13_ORDER="TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"

# One nginx, two TLS servers (ordered, unordered); ports picked again if taken.
start_nginx() {
  local prefer
  mkdir -p "$tmp/nginx"
  {
    echo "worker_processes 1; error_log $tmp/nginx/error.log; pid $tmp/nginx/nginx.pid;"
    echo "events { worker_connections 256; }"
    echo "http { access_log off;"
    for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $tmp/nginx/$t;"; done
    for prefer in on off; do
      [ $prefer = on ] && port=$ordered_port || port=$unordered_port
      echo "  server { listen 127.0.0.1:$port ssl; ssl_certificate $tmp/pki/chain.pem;"
      echo "    ssl_certificate_key $tmp/pki/leaf.key; ssl_protocols TLSv1.2 TLSv1.3;"
      echo "    ssl_prefer_server_ciphers $prefer; ssl_ciphers $TLS12_ORDER;"
      echo "    ssl_conf_command Ciphersuites $TLS13_ORDER; return 200 ok; }"
    done
    echo "}"
  } >"$tmp/nginx/nginx.conf"
  "$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g "daemon off;" >"$tmp/nginx/out" 2>&1 &
  nginx_pid=$!
  WAIT_PID=$nginx_pid wait_until 5 tcp_accepts 127.0.0.1 "$ordered_port" &&
    WAIT_PID=$nginx_pid wait_until 5 tcp_accepts 127.0.0.1 "$unordered_port"
}
for attempt in 1 2 3 4 5; do
  ordered_port=$(free_tcp_port)
  unordered_port=$(free_tcp_port)
  [ "$ordered_port" = "$unordered_port" ] && continue
  start_nginx && break
  kill "$nginx_pid" 2>/dev/null
  wait "$nginx_pid" 2>/dev/null
  nginx_pid=
  grep -qi "in use" "$tmp/nginx/error.log" "$tmp/nginx/out" 2>/dev/null || break
done
[ -n "$nginx_pid" ] || { echo "FAIL: nginx did not start"; cat "$tmp/nginx/error.log" "$tmp/nginx/out" 2>/dev/null; exit 1; }

cat >"$tmp/profile.json" <<JSON
{"name": "tls-order", "description": "server order against testssl.sh", "variables": {},
 "checks": [
  {"id": "ordered", "kind": "tls", "category": "tls", "severity": "critical",
   "params": {"host": "127.0.0.1", "port": $ordered_port, "server_name": "localhost", "ca_file": "$tmp/pki/root.pem"},
   "requirement": {"text": "test", "source": "test"}},
  {"id": "unordered", "kind": "tls", "category": "tls", "severity": "critical",
   "params": {"host": "127.0.0.1", "port": $unordered_port, "server_name": "localhost", "ca_file": "$tmp/pki/root.pem"},
   "requirement": {"text": "test", "source": "test"}}]}
JSON
"$CALLREADY" scan --profile "$tmp/profile.json" --format json --quiet --timeout 60 >"$tmp/report.json"
[ -s "$tmp/report.json" ] || { echo "FAIL: callready wrote no report"; exit 1; }

# testssl.sh's server preferences (-P) of both servers, as JSON; both at
# once (each spends most of its time in its own shell and openssl processes).
for which in ordered unordered; do
  [ $which = ordered ] && port=$ordered_port || port=$unordered_port
  timeout 120 "$testssl" --quiet --color 0 --warnings off --nodns none -P --jsonfile "$tmp/testssl-$which.json" \
    "127.0.0.1:$port" >"$tmp/testssl-$which.out" 2>&1 &
  testssl_pids+=($!)
done
wait "${testssl_pids[@]}"
for which in ordered unordered; do
  [ -s "$tmp/testssl-$which.json" ] || { echo "FAIL: testssl.sh gave no JSON for $which"; cat "$tmp/testssl-$which.out"; exit 1; }
done

python3 - "$tmp" "$TLS12_ORDER" "$TLS13_ORDER" <<'PY'
import json, subprocess, sys
tmp, tls12, tls13 = sys.argv[1], sys.argv[2].split(":"), sys.argv[3].split(":")
# IANA name -> OpenSSL name (testssl.sh names TLS <= 1.2 suites the OpenSSL way, TLS 1.3 the IANA way).
openssl_name = {}
for line in subprocess.run(["openssl", "ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                           capture_output=True, text=True).stdout.splitlines():
    parts = line.split()
    if len(parts) >= 3 and parts[1] == "-": openssl_name[parts[0]] = parts[2]
report = {c["id"]: c for c in json.load(open(f"{tmp}/report.json"))["checks"]}
fail = []
def callready_order(check, version):
    v = check["details"]["versions"][version]
    names = v["ciphers"] if version == "tls1.3" else [openssl_name.get(n, n) for n in v["ciphers"]]
    return names, v.get("server_order")
def testssl(which):
    return {e["id"]: e["finding"] for e in json.load(open(f"{tmp}/testssl-{which}.json"))}

ts = testssl("ordered")
cr = report["ordered"]
print("testssl.sh (ordered):", ts.get("cipher_order"), "|", ts.get("cipherorder_TLSv1_2"), "|", ts.get("cipherorder_TLSv1_3"))
if ts.get("cipher_order") != "server": fail.append(f"testssl.sh sees no server order: {ts.get('cipher_order')}")
for version, key, configured in (("tls1.2", "cipherorder_TLSv1_2", tls12), ("tls1.3", "cipherorder_TLSv1_3", tls13)):
    names, server_order = callready_order(cr, version)
    theirs = ts.get(key, "").split()
    print(f"  {version}: callready {names} (server_order {server_order}); testssl.sh {theirs}")
    if server_order is not True: fail.append(f"ordered {version}: callready server_order is {server_order}")
    if names != theirs: fail.append(f"ordered {version}: callready {names} != testssl.sh {theirs}")
    if theirs != configured: fail.append(f"ordered {version}: testssl.sh {theirs} != configured {configured}")

ts = testssl("unordered")
cr = report["unordered"]
print("testssl.sh (unordered):", ts.get("cipher_order"))
if "NOT a cipher order" not in ts.get("cipher_order", ""): fail.append(f"testssl.sh sees an order: {ts.get('cipher_order')}")
if any(k.startswith("cipherorder_") for k in ts): fail.append("testssl.sh listed an order without server preference")
for version, configured in (("tls1.2", tls12), ("tls1.3", tls13)):
    names, server_order = callready_order(cr, version)
    print(f"  {version}: callready {sorted(names)} (server_order {server_order})")
    if server_order is not False: fail.append(f"unordered {version}: callready server_order is {server_order}, not false")
    if sorted(names) != sorted(configured): fail.append(f"unordered {version}: suites {sorted(names)} != {sorted(configured)}")
if fail:
    print("FAIL:", *fail, sep="\n  ")
    sys.exit(1)
print("ok: callready's server order is testssl.sh's (ordered), and both see none (unordered)")
PY

# shellcheck shell=bash
# Shared by the lab tests that play an XSP with nginx in the cloud namespace
# (http_xsp_test.sh, http_xsp_profile_test.sh). Source it after lib.sh, once
# lab_up has made $LAB_DIR.

# xsp_require_nginx: NGINX names the binary, or the test is skipped.
xsp_require_nginx() {
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$NGINX" ] || { echo "SKIP: nginx not installed (nginx-light, scripts/install-deps.sh)"; exit 77; }
}

# xsp_make_pki SAN: $PKI/root.pem (a lab CA the probe does not trust unless
# told), $PKI/xsp.pem + xsp.key (RSA, SAN as given, e.g.
# "DNS:xsp.example.test,DNS:app.example.test") and $PKI/clientca.pem (a CA
# for client certificates, "CN=Lab XSP Client CA,O=Lab").
xsp_make_pki() {
  local cn=${1%%,*}
  cn=${cn#DNS:}
  PKI="$LAB_DIR/pki"
  mkdir -p "$PKI"
  chmod 755 "$LAB_DIR"
  (
    set -e
    cd "$PKI"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/O=Lab/CN=Lab XSP Root" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout root.key -out root.pem
    openssl req -new -newkey rsa:2048 -nodes -subj "/O=Lab/CN=$cn" -keyout xsp.key -out xsp.csr
    printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$1" >xsp.ext
    openssl x509 -req -in xsp.csr -CA root.pem -CAkey root.key -CAcreateserial -days 2 -extfile xsp.ext -out xsp.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/O=Lab/CN=Lab XSP Client CA" \
      -addext "basicConstraints=critical,CA:TRUE" -keyout clientca.key -out clientca.pem
  ) >"$LAB_DIR/pki.log" 2>&1 || { echo "FAIL: cannot make the lab PKI"; cat "$LAB_DIR/pki.log"; return 1; }
  chmod 644 "$PKI"/*.key
}

# xsp_start_nginx ADDRESS:PORT...: nginx in the cloud with the http { }
# server blocks read from stdin; waits until every ADDRESS:PORT accepts from
# the client. NGINX_PID is its PID (tracked for cleanup).
xsp_start_nginx() {
  local ng="$LAB_DIR/nginx" t a
  mkdir -p "$ng"
  {
    echo "worker_processes 1; error_log $ng/error.log; pid $ng/nginx.pid; daemon off;"
    echo "events { worker_connections 64; }"
    echo "http { access_log off;"
    for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $ng/$t;"; done
    cat
    echo "}"
  } >"$ng/nginx.conf"
  lab_bg "$LAB_CLOUD" "$NGINX" -p "$ng" -c "$ng/nginx.conf"
  NGINX_PID=$LAB_LAST_PID
  for a in "$@"; do
    WAIT_PID=$NGINX_PID lab_wait_tcp "${a%:*}" "${a##*:}" || { cat "$ng/error.log" "$LAB_LAST_LOG" >&2; return 1; }
  done
}

#!/usr/bin/env bash
# `callready scan --format nagios` from outside: the status line, perfdata
# that Monitoring::Plugin's own parser (libmonitoring-plugin-perl) reads back
# item for item, one line per check, and the exit status 0/1/2/3.
# Peers: a real dnsmasq and a TCP listener on loopback.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
for p in dnsmasq python3 perl; do
  command -v "$p" >/dev/null || { echo "SKIP: $p missing (scripts/install-deps.sh)"; exit 77; }
done
perl -MMonitoring::Plugin::Performance -e 1 2>/dev/null || { echo "SKIP: libmonitoring-plugin-perl missing"; exit 77; }
. "$here/exporter_lib.sh"
exp_dnsmasq || exit 1
exp_tcp_listener || exit 1
exp_module "$EXP_DIR/mods"
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

# Parses the perfdata of the first line with Monitoring::Plugin; prints
# "count label=valueUOM ... U:label ...". Its parser has no "U" (value not
# determined, guidelines 2.6): those items must match the guidelines' form
# exactly and every other item must parse.
parse_perf() {
  perl -MMonitoring::Plugin::Performance -ne '
    next unless $. == 1; my ($perf) = /\|\s*(.*)$/ or die "no perfdata\n";
    my @items = split / (?=\x27)/, $perf;
    my @unknown = grep { /=U(;|$)/ } @items;
    my @known = grep { !/=U(;|$)/ } @items;
    for (@unknown) { die "bad U item: $_\n" unless /^\x27[^\x27=]+\x27=U(;[^; ]*){0,4}$/ }
    my @p = Monitoring::Plugin::Performance->parse_perfstring(join(" ", @known));
    die sprintf("parsed %d of %d items\n", scalar @p, scalar @known) unless @p == @known;
    print scalar(@p), " ", join(" ", map { $_->label . "=" . $_->value . $_->uom } @p),
      join("", map { /^\x27([^\x27]+)/; " U:$1" } @unknown), "\n";' "$1"
}

# Ready: every check passes, exit 0, OK.
"$CALLREADY" scan --profile "$EXP_DIR/mods/site-basic.json" --set target=sbc.site.test \
  --dns-server "127.0.0.1:$DNS_PORT" --format nagios --timeout 10 >"$EXP_DIR/ok.txt" 2>"$EXP_DIR/err.txt"
rc=$?
check "ready exits 0" '[ $rc = 0 ]'
check "ready status line" 'head -1 "$EXP_DIR/ok.txt" | grep -Eq "^CALLREADY OK - all 2 checks passed \| .score.=100;;;0;100 "'
check "one line per check" '[ "$(wc -l <"$EXP_DIR/ok.txt")" = 3 ] && sed -n 2p "$EXP_DIR/ok.txt" | grep -q "^OK dns-a (dns, "'
perf=$(parse_perf "$EXP_DIR/ok.txt")
check "Monitoring::Plugin parses every perfdata item ($perf)" '[ -n "$perf" ]'
# The guidelines' value class is [-0-9.]: a loopback DNS lookup of tens of
# microseconds must not print as 4.2e-05.
plain_values() {
  local values
  values=$(head -1 "$1" | sed 's/^[^|]*| //' | grep -oE "'=[^; ]*")
  [ -n "$values" ] && ! grep -vqE "^'=(U|-?[0-9.]+[a-zA-Z%]*)$" <<<"$values"
}
check "every perfdata value is U or of the class [-0-9.] (no exponent)" 'plain_values "$EXP_DIR/ok.txt"'
check "score and the TCP connect time in seconds" 'echo "$perf" | grep -q " score=100 " && echo "$perf" | grep -Eq "tcp-sbc_tcp_connect=[0-9.]+s( |$)"'

# Not ready: the TCP port refuses (a port nothing listens on), exit 2, CRITICAL, the failing check named, U for the connect time.
closed=$(free_tcp_port)
"$CALLREADY" scan --profile "$EXP_DIR/mods/site-basic.json" --set target=sbc.site.test --set port="$closed" \
  --dns-server "127.0.0.1:$DNS_PORT" --format nagios --timeout 10 >"$EXP_DIR/crit.txt" 2>>"$EXP_DIR/err.txt"
rc=$?
check "not ready exits 2" '[ $rc = 2 ]'
check "critical status line names the failed check" 'head -1 "$EXP_DIR/crit.txt" | grep -Eq "^CALLREADY CRITICAL - 1 of 2 checks failed: tcp-sbc \| "'
perf=$(parse_perf "$EXP_DIR/crit.txt")
check "U for a time not measured ($perf)" 'echo "$perf" | grep -q " U:tcp-sbc_tcp_connect"'
check "no exponent in the critical run's perfdata either" 'plain_values "$EXP_DIR/crit.txt"'
check "the failed check's line" 'grep -q "^CRITICAL tcp-sbc (tcp, " "$EXP_DIR/crit.txt"'

# Unknown: a usage error exits 3.
"$CALLREADY" scan --profile "$EXP_DIR/mods/site-basic.json" --format nagios --timeout 0 >/dev/null 2>&1
rc=$?
check "usage error exits 3" '[ $rc = 3 ]'
[ $fail = 0 ] || { cat "$EXP_DIR/err.txt"; cat "$EXP_DIR"/*.txt; }
[ $fail = 0 ] && echo "nagios_format: 1 passed, 0 failed" || echo "nagios_format: 0 passed, 1 failed"
exit $fail

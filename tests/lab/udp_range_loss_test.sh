#!/usr/bin/env bash
# With 5% random loss on the path (each direction), a 200-port sweep is still
# exact: retries with backoff, and more rounds while loss is seen, keep open
# ports from being reported blocked; a truly DROPped range stays blocked.
set -u
. "$SOURCE_DIR/tests/lab/lib.sh"
lab_require_root
trap lab_cleanup EXIT
lab_up
lab_start_responder --udp-ports 20000-20199 || exit 1
random_loss 0.05
# The loss is for the UDP sweep: the control exchange (TCP, a 3 s budget)
# is kept off it, or two lost SYNs in a row read as a missing responder.
lab_router iptables -I FORWARD -p tcp --dport "$LAB_CONTROL_PORT" -j ACCEPT
lab_router iptables -I FORWARD -p tcp --sport "$LAB_CONTROL_PORT" -j ACCEPT
drop_udp_range 20190 20199

PARAMS='{"host": "203.0.113.10", "ports": "20000-20199", "max_pps": 1000}'
LAB_FAILED=0
for run in 1 2 3; do
  lab_scan udp_range "$PARAMS" --token "$LAB_TOKEN" || exit 1
  lab_assert "$LAB_DIR/r.json" 'd["open"] == ["20000-20189"] and d["blocked"] == ["20190-20199"] and d["rejected"] == []' "run $run exact"
  lab_assert "$LAB_DIR/r.json" 'd["rounds"] >= 3 and d["loss_estimate"] > 0' "run $run saw the loss and retried"
done
exit $LAB_FAILED

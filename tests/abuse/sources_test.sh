#!/usr/bin/env bash
# The responder under abuse, loopback only: the "sources" scenario of tests/abuse/abuse.py.
here="$(cd "$(dirname "$0")" && pwd)"
exec timeout 60 python3 "$here/abuse.py" sources

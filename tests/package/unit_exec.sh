#!/usr/bin/env bash
# unit_exec.sh UNIT [ARGS...]: runs an installed unit's ExecStart the way
# systemd would, for machines where systemd is not PID 1 (CI containers).
# Honoured: the unit file plus its drop-ins in /etc/systemd/system/UNIT.d/,
# ConditionPathExists= (exit 78 when not met, as systemd skips the unit),
# EnvironmentFile= (variables exported and expanded in ExecStart),
# LoadCredential=ID:PATH (copied into a private credentials directory, %d),
# StateDirectory= with DynamicUser=yes (/var/lib/private/NAME, symlinked from
# /var/lib/NAME), DynamicUser=yes (a uid from systemd's dynamic range, no
# groups, no capabilities, no_new_privs), UMask=. Not emulated: the namespaces and
# seccomp filters (ProtectSystem=, SystemCallFilter=, ...): systemd-analyze
# verify and security check those. Extra ARGS are appended to ExecStart.
# UNIT_TMP (required) is where the credentials directory goes.
set -euo pipefail
unit=$1
shift
file=/lib/systemd/system/$unit
[ -r "$file" ] || { echo "unit_exec: no $file" >&2; exit 1; }
[ -n "${UNIT_TMP:-}" ] || { echo "unit_exec: set UNIT_TMP" >&2; exit 1; }
files=("$file")
for d in /etc/systemd/system/"$unit".d/*.conf; do [ -r "$d" ] && files+=("$d"); done
# directive NAME: every value NAME= takes in the unit and its drop-ins; an
# empty assignment resets the list, as in systemd.
directive() {
  sed -n "s/^$1=//p" "${files[@]}" | awk '$0 == "" { n = 0; next } { v[n++] = $0 } END { for (i = 0; i < n; i++) print v[i] }'
}

while read -r path; do
  [ -z "$path" ] || [ -e "$path" ] || { echo "unit_exec: $unit: ConditionPathExists=$path not met" >&2; exit 78; }
done < <(directive ConditionPathExists)

[ "$(directive DynamicUser)" = yes ] || { echo "unit_exec: $unit is not DynamicUser=yes" >&2; exit 1; }
uid=${UNIT_UID:-61184}

names=()
while read -r envfile; do
  [ -n "$envfile" ] || continue
  optional=0
  [[ $envfile == -* ]] && envfile=${envfile#-} optional=1
  if [ ! -r "$envfile" ]; then
    [ $optional = 1 ] && continue
    echo "unit_exec: $unit: EnvironmentFile=$envfile missing" >&2
    exit 1
  fi
  set -a
  # shellcheck disable=SC1090 # the unit's own configuration file
  . "$envfile"
  set +a
  names+=($(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' "$envfile"))
done < <(directive EnvironmentFile)

# The dynamic uid must reach its credentials (systemd: /run/credentials/UNIT).
chmod 0711 "$UNIT_TMP"
creds=$UNIT_TMP/credentials/$unit
rm -rf "$creds"
mkdir -p -m 0711 "$UNIT_TMP/credentials"
mkdir -p "$creds"
while read -r cred; do
  [ -n "$cred" ] || continue
  install -m 0400 -o "$uid" "${cred#*:}" "$creds/${cred%%:*}"
done < <(directive LoadCredential)
chown "$uid" "$creds"
chmod 0500 "$creds"

state=$(directive StateDirectory)
if [ -n "$state" ]; then
  mkdir -p -m 0700 /var/lib/private
  mkdir -p "/var/lib/private/$state"
  chown "$uid:$uid" "/var/lib/private/$state"
  [ -L "/var/lib/$state" ] || ln -sfn "private/$state" "/var/lib/$state"
  export STATE_DIRECTORY=/var/lib/$state
  names+=(STATE_DIRECTORY)
fi
export CREDENTIALS_DIRECTORY=$creds
names+=(CREDENTIALS_DIRECTORY)

mask=$(directive UMask)
[ -z "$mask" ] || umask "$mask"
line=$(directive ExecStart)
line=${line//%d/$creds}
# systemd splits $VAR into words and keeps ${VAR} whole; eval does the same
# for the unit's simple lines.
eval "set -- $line \"\$@\""
env_args=(PATH=/usr/sbin:/usr/bin:/sbin:/bin)
for n in "${names[@]}"; do env_args+=("$n=${!n}"); done
run=(setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all
  env -i "${env_args[@]}" "$@")
[ -n "$state" ] || exec "${run[@]}"
# /var/lib/private is 0700 on the host; systemd shows a DynamicUser service
# its state directory through a private /var/lib/private: the same here, in
# a mount namespace of the service's own.
exec unshare -m --propagation private bash -c '
  set -e
  state=$1 keep=$2
  shift 2
  mkdir -p "$keep"
  mount --bind "/var/lib/private/$state" "$keep"
  mount -t tmpfs -o mode=0755 tmpfs /var/lib/private
  mkdir "/var/lib/private/$state"
  mount --bind "$keep" "/var/lib/private/$state"
  exec "$@"' _ "$state" "$UNIT_TMP/state-$unit" "${run[@]}"

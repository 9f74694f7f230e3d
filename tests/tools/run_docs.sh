#!/usr/bin/env bash
# Runs every ```sh block of a Markdown page (docs/OPERATIONS.md), word for word and in order, in
# one bash shell with `set -euo pipefail`, under the scratch root $ROOT (the page's own variable).
#   tests/tools/run_docs.sh PAGE UNIT_DIR
# The caller exports ROOT, SERVER_NAME, ADDRESS, PORT (the page's first block keeps them), PGHOST
# and PGPORT (libpq: the test's PostgreSQL), and PATH with the `safehold` under test first.
#
# What a build machine cannot do is simulated by the shell functions below, and by nothing else:
#   adduser        no user is added to this machine; the --home folder is made, as adduser does
#   runuser -u U --  runs as the caller with PGUSER=U (PostgreSQL's peer authentication maps the
#                  user U to the role U)
#   chown, install -o/-g   ownership is left to the caller (one user runs the test)
#   apt install ./safehold_*.deb   not installed here (tools: package installs and checks it)
#   systemctl      daemon-reload does nothing; enable --now, start, stop, restart run or stop each
#                  unit's ExecStart line (from UNIT_DIR, the installed or source units) the way
#                  systemd would: %i replaced, User= as PGUSER, EnvironmentFile= read, working folder
#                  /, stdout and stderr to $ROOT/journal/UNIT.log, SIGTERM then waiting to stop.
# Prints "docs: block N (line L)" before each block; the PIDs of running units are in
# $ROOT/run/UNIT.pid (the test stops what is left).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 PAGE UNIT_DIR" >&2; exit 1; }
page=$1
unit_dir=$(realpath "$2")
: "${ROOT:?ROOT must be a scratch folder}"
script=$(mktemp)
trap 'rm -f "$script"' EXIT

cat >"$script" <<'SHIMS'
adduser() {
  local home=
  while [ $# -gt 0 ]; do [ "$1" = --home ] && home=$2; shift; done
  [ -n "$home" ] && mkdir -p "$home"
  echo "docs test: adduser not run (no user is added to this machine)"
}
runuser() {
  [ "${1:-}" = -u ] && [ "${3:-}" = -- ] || { echo "docs test: runuser $* is not simulated" >&2; return 1; }
  local user=$2
  shift 3
  PGUSER=$user "$@"
}
chown() { :; }
install() {
  local args=()
  while [ $# -gt 0 ]; do
    case $1 in
      -o | -g) shift 2 ;;
      *) args+=("$1"); shift ;;
    esac
  done
  command install "${args[@]}"
}
apt() {
  [ "${1:-}" = install ] && [[ ${2:-} == ./safehold_*.deb ]] && [ $# -eq 2 ] ||
    { echo "docs test: apt $* is not simulated" >&2; return 1; }
  echo "docs test: package not installed here (tools: package installs and checks it)"
}
_unit_file() {
  local name=${1%.service}
  if [[ $name == *@* ]]; then echo "$DOCS_UNIT_DIR/${name%%@*}@.service"; else echo "$DOCS_UNIT_DIR/$name.service"; fi
}
_unit_key() { sed -n "s/^$2=//p" "$1" | tail -1; }
_unit_start() {
  local name=${1%.service} file instance exec user envfile
  file=$(_unit_file "$name")
  [ -f "$file" ] || { echo "docs test: no unit file $file" >&2; return 1; }
  [ -f "$ROOT/run/$name.pid" ] && kill -0 "$(cat "$ROOT/run/$name.pid")" 2>/dev/null && return 0
  instance=${name#*@}
  exec=$(_unit_key "$file" ExecStart)
  exec=${exec//%i/$instance}
  case $exec in
    /usr/bin/safehold\ * | /usr/local/bin/safehold\ *) exec="safehold ${exec#* }" ;;
    *) echo "docs test: $file: ExecStart is not the safehold binary: $exec" >&2; return 1 ;;
  esac
  user=$(_unit_key "$file" User)
  envfile=$(_unit_key "$file" EnvironmentFile)
  envfile=$ROOT${envfile#-}
  mkdir -p "$ROOT/run" "$ROOT/journal"
  (
    cd /
    export PGUSER=$user
    if [ -f "$envfile" ]; then set -a; . "$envfile"; set +a; fi
    exec $exec
  ) >>"$ROOT/journal/$name.log" 2>&1 </dev/null &
  echo $! >"$ROOT/run/$name.pid"
}
_unit_stop() {
  local pidfile=$ROOT/run/${1%.service}.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  rm -f "$pidfile"
}
systemctl() {
  local cmd=${1:-} pattern pidfile name
  shift || true
  case $cmd in
    daemon-reload) ;;
    enable)
      [ "${1:-}" = --now ] || { echo "docs test: systemctl enable without --now is not simulated" >&2; return 1; }
      shift
      for name; do _unit_start "$name"; done ;;
    start) for name; do _unit_start "$name"; done ;;
    stop | restart)
      for pattern; do
        for pidfile in "$ROOT"/run/*.pid; do
          [ -e "$pidfile" ] || continue
          name=$(basename "$pidfile" .pid)
          [[ $name == ${pattern%.service} ]] || continue
          _unit_stop "$name"
          if [ "$cmd" = restart ]; then _unit_start "$name"; fi
        done
      done ;;
    *) echo "docs test: systemctl $cmd is not simulated" >&2; return 1 ;;
  esac
}
set -euo pipefail
SHIMS

# The blocks: lines between "```sh" and "```", each announced with its line number.
awk '
  /^```sh[[:space:]]*$/ { inblock = 1; n++; printf "echo \"docs: block %d (line %d)\"\n", n, NR; next }
  /^```/ && inblock { inblock = 0; next }
  inblock { print }
' "$page" >>"$script"
blocks=$(grep -c '^echo "docs: block' "$script" || true)
[ "$blocks" -gt 0 ] || { echo "run_docs: no sh blocks in $page" >&2; exit 1; }
DOCS_UNIT_DIR=$unit_dir bash "$script"

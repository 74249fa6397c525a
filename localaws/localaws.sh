#!/usr/bin/env bash
# Local AWS (moto + our package localaws/stand_in: python -m stand_in) for lifeguard's tests.
#   localaws.sh start|stop|status|url      port: $LOCALAWS_PORT (default 4599)
# State (pid, log) lives in .localaws/ at the repo root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${LOCALAWS_PORT:-4599}"
URL="http://127.0.0.1:${PORT}"
STATE="${ROOT}/.localaws"
PIDFILE="${STATE}/localaws-${PORT}.pid"
LOG="${STATE}/localaws-${PORT}.log"
PYTHON="${ROOT}/.venv/bin/python"

# Our stand-in's own health endpoint (moto's /moto-api/data.json answers 500 once a Lambda
# function exists, and would not tell our stand-in from a plain moto).
healthy() { curl -fsS -m 2 -o /dev/null "${URL}/_lifeguard/health" 2>/dev/null; }
running_pid() {
  local pid
  pid="$(cat "${PIDFILE}" 2>/dev/null || true)"
  [[ -n "${pid}" ]] && kill -0 "${pid}" 2>/dev/null && echo "${pid}"
}

start() {
  if pid="$(running_pid)" && healthy; then
    echo "localaws already running (pid ${pid}) at ${URL}"
    return 0
  fi
  if [[ ! -x "${PYTHON}" ]]; then
    echo "localaws: ${PYTHON} not found; create the project venv first" >&2
    return 1
  fi
  if healthy; then
    echo "localaws: port ${PORT} is already served by another process; set LOCALAWS_PORT" >&2
    return 1
  fi
  mkdir -p "${STATE}"
  # setsid: the server outlives this shell and its process group
  PYTHONPATH="${ROOT}/localaws${PYTHONPATH:+:${PYTHONPATH}}" \
    setsid "${PYTHON}" -m stand_in --port "${PORT}" >"${LOG}" 2>&1 < /dev/null &
  echo $! >"${PIDFILE}"
  for _ in $(seq 1 60); do  # up to ~30 s
    if healthy; then
      curl -fsS -m 5 -o /dev/null -X POST -H 'Content-Type: application/json' \
        -d '{"lambda":{"use_docker":false}}' "${URL}/moto-api/config"
      echo "localaws started (pid $(cat "${PIDFILE}")) at ${URL}"
      return 0
    fi
    if ! running_pid >/dev/null; then break; fi
    sleep 0.5
  done
  echo "localaws: server did not answer at ${URL}; last lines of ${LOG}:" >&2
  tail -n 30 "${LOG}" >&2 || true
  stop >/dev/null
  return 1
}

stop() {
  if pid="$(running_pid)"; then
    kill "${pid}"
    for _ in $(seq 1 20); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.25; done
    kill -0 "${pid}" 2>/dev/null && kill -9 "${pid}"
    echo "localaws stopped (pid ${pid})"
  else
    echo "localaws not running"
  fi
  rm -f "${PIDFILE}"
}

status() {
  if pid="$(running_pid)" && healthy; then
    echo "localaws running (pid ${pid}) at ${URL}"
  elif pid="$(running_pid)"; then
    echo "localaws process ${pid} is up but not answering at ${URL}" >&2
    return 1
  else
    echo "localaws not running" >&2
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  url) echo "${URL}" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac

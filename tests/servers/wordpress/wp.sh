#!/usr/bin/env bash
# A real WordPress 6.1 (Debian 12's `wordpress` package) + MariaDB + PHP's
# built-in server for Keepsake's tests, benchmarks and demo. Loopback only:
# MariaDB listens on a private unix socket, PHP on 127.0.0.1:PORT.
#
#   wp.sh seed  SNAPSHOT_DIR                     build the seeded snapshot (cached)
#   wp.sh start SNAPSHOT_DIR INSTANCE_DIR PORT   fresh copy + servers; prints the URL
#   wp.sh stop  INSTANCE_DIR                     stop what start started (idempotent)
#   wp.sh status INSTANCE_DIR                    exit 0 when both servers are up
#   wp.sh sql   INSTANCE_DIR "QUERY"             batch, tab-separated, no header
#
# Every path is explicit so that several instances can run at once. Needs the
# Debian packages that `cargo xtask setup` installs. Environment:
#   WP_ENVIRONMENT_TYPE      default `local`: WordPress 6.1 honours application
#                            passwords over plain http only in a local site
#   KEEPSAKE_WP_OWNER_PID    start: stop the instance when this process is gone
#                            (a killed test run leaves no servers behind)
#   KEEPSAKE_WP_WORKERS      PHP_CLI_SERVER_WORKERS, default 4
# Exit codes: 0 ok, 1 failure, 2 usage, 3 port in use (pick another, retry).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WP=/usr/share/wordpress             # Debian's read-only WordPress tree
WORKERS=${KEEPSAKE_WP_WORKERS:-4}
# The site URL the seed runs under. WordPress stores it in post guids only;
# every other URL follows the instance's port (WP_HOME in its wp-config.php).
SEED_URL=http://wordpress.test

log() { printf '[wp.sh %s] %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
# A signal becomes an exit, so that the EXIT traps below clean up.
trap 'exit 130' INT
trap 'exit 143' TERM

need_packages() {
  local missing=()
  [ -f "$WP/wp-settings.php" ] || missing+=(wordpress)
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server-core)
  command -v mariadb-admin >/dev/null || missing+=(mariadb-client)
  command -v php >/dev/null || missing+=(php-cli)
  if [ ${#missing[@]} -eq 0 ]; then
    php -r 'exit(extension_loaded("mysqli") && extension_loaded("gd") ? 0 : 1);' || missing+=(php-mysql php-gd)
  fi
  [ ${#missing[@]} -eq 0 ] || die "missing ${missing[*]}: run \`cargo xtask setup\` (or apt-get install them)"
}
mariadbd_bin() { command -v mariadbd || echo /usr/sbin/mariadbd; }

# What the snapshot depends on: the harness files and the server versions
# (a datadir is tied to its MariaDB version, the data to WordPress's).
harness_hash() {
  {
    (cd "$HERE" && sha256sum wp.sh router.php wp-config-template.php seed.php mu-plugins/*.php)
    "$(mariadbd_bin)" --version
    php -r 'echo PHP_VERSION, " gd ", GD_VERSION, "\n";'
    sha256sum "$WP/wp-includes/version.php"
  } | sha256sum | cut -c1-16
}

# The directory a snapshot or an instance runs from:
#   DIR/wordpress/   ABSPATH: symlinks into Debian's tree plus our wp-config.php
#                    (Debian's own wp-config.php reads /etc/wordpress, which
#                    is machine-wide and root's; this keeps each instance apart)
#   DIR/wp-content/  uploads (the instance's own), mu-plugins, themes, plugins
#   DIR/db/, DIR/run/, DIR/log/, DIR/my.cnf
layout() { # DIR URL
  local dir=$1 url=$2 e sock
  mkdir -p "$dir"/{wordpress,wp-content/uploads,wp-content/mu-plugins,run,log,tmp}
  for e in "$WP"/*; do
    [ "$(basename "$e")" = wp-config.php ] || ln -sfn "$e" "$dir/wordpress/"
  done
  ln -sfn "$dir/wp-content" "$dir/wordpress/wp-content"
  ln -sfn "$WP/wp-content/themes" "$dir/wp-content/themes"
  ln -sfn "$WP/wp-content/plugins" "$dir/wp-content/plugins"
  cp "$HERE"/mu-plugins/*.php "$dir/wp-content/mu-plugins/"
  # sun_path holds 108 bytes: a deep INSTANCE_DIR gets its socket in /tmp.
  sock=$dir/run/db.sock
  if [ ${#sock} -gt 100 ]; then
    sock=$(mktemp -d "${TMPDIR:-/tmp}/keepsake-wp.XXXXXX")/db.sock
    echo "${sock%/db.sock}" > "$dir/run/socket-dir"
  fi
  # PHP writes the constants itself so that no path needs shell quoting.
  php -r '
    [, $out, $dir, $url, $sock, $tpl] = $argv;
    $head = sprintf("<?php\n/* Written by wp.sh for this instance only. */\ndefine( \"KEEPSAKE_WP_DIR\", %s );\ndefine( \"KEEPSAKE_WP_URL\", %s );\ndefine( \"KEEPSAKE_WP_SOCKET\", %s );\n",
      var_export($dir, true), var_export($url, true), var_export($sock, true));
    file_put_contents($out, $head . preg_replace("/^<\\?php\\s*/", "", file_get_contents($tpl)));
  ' "$dir/wordpress/wp-config.php" "$dir" "$url" "$sock" "$HERE/wp-config-template.php"
  local user=""
  [ "$(id -u)" = 0 ] && user="user = root"   # mariadbd refuses root without it
  cat > "$dir/my.cnf" <<EOF
# Test-only MariaDB: no TCP, private socket, small buffers so that the
# datadir is small to copy and quick to start. root has no password: only
# this user can reach the socket.
[mariadbd]
datadir                    = $dir/db
socket                     = $sock
pid-file                   = $dir/run/mariadbd.pid
log-error                  = $dir/log/mariadbd.err
tmpdir                     = $dir/tmp
$user
skip-networking
skip-name-resolve
skip-log-bin
character-set-server       = utf8mb4
collation-server           = utf8mb4_unicode_ci
innodb_buffer_pool_size    = 32M
innodb_log_file_size       = 8M
innodb_log_buffer_size     = 4M
innodb_data_file_path      = ibdata1:4M:autoextend
innodb_temp_data_file_path = ibtmp1:4M:autoextend
innodb_doublewrite         = 0
# ibdata1 grows by 64 MB steps by default, mostly empty space to copy.
innodb_autoextend_increment = 1
innodb_flush_log_at_trx_commit = 2
performance_schema         = OFF
[client]
socket                     = $sock
user                       = root
EOF
}

db_ping() { mariadb-admin --defaults-file="$1/my.cnf" --connect-timeout=1 ping >/dev/null 2>&1; }

start_db() { # DIR [extra mariadbd args]
  local dir=$1; shift
  # 9>&-: a server must not inherit (and so hold) the seed lock.
  setsid "$(mariadbd_bin)" --defaults-file="$dir/my.cnf" "$@" </dev/null >>"$dir/log/mariadbd.out" 2>&1 9>&- &
  local pid=$! i
  for i in $(seq 1 600); do
    db_ping "$dir" && return 0
    alive "$pid" || break
    sleep 0.05
  done
  tail -n 20 "$dir/log/mariadbd.err" >&2 || true
  die "mariadbd did not start (log: $dir/log/mariadbd.err)"
}

# Whether process $1 (or with -g, any process of group $1) is alive. Read
# from /proc: kill -0 also counts zombies, which a container's init may
# leave unreaped, and procps is not on every machine.
alive() {
  local group=0 f s st
  [ "$1" = -g ] && { group=1; shift; }
  for f in /proc/[0-9]*/stat; do
    read -r s 2>/dev/null < "$f" || continue
    read -r -a st <<< "${s##*) }"   # state, ppid, pgrp, ...
    [ "${st[0]}" != Z ] || continue
    if [ $group = 1 ]; then [ "${st[2]}" = "$1" ] && return 0
    else [ "$f" = "/proc/$1/stat" ] && return 0; fi
  done
  return 1
}

wait_gone() { # [-g] ID SECONDS
  local i
  for i in $(seq 1 $((${*: -1} * 20))); do alive "${@:1:$#-1}" || return 0; sleep 0.05; done
  return 1
}

stop_db() { # DIR [SIGNAL]
  local dir=$1 sig=${2:-TERM} pid
  pid=$(cat "$dir/run/mariadbd.pid" 2>/dev/null) || return 0
  kill -"$sig" "$pid" 2>/dev/null || return 0   # SIGTERM is a clean shutdown
  wait_gone "$pid" 30 && return 0
  log "mariadbd $pid ignored SIG$sig for 30 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}

drop_socket_dir() { # DIR
  if [ -f "$1/run/socket-dir" ]; then rm -rf "$(cat "$1/run/socket-dir")"; rm -f "$1/run/socket-dir"; fi
}

discard() { # DIR: a seed's work directory
  stop_db "$1" 2>/dev/null || true
  drop_socket_dir "$1"
  rm -rf "$1"
}

# ---------------------------------------------------------------------------

cmd_seed() { # SNAPSHOT_DIR
  local snap=${1%/} hash tmp old t0=$SECONDS
  need_packages
  hash=$(harness_hash)
  mkdir -p "$(dirname "$snap")"
  snap=$(cd "$(dirname "$snap")" && pwd)/$(basename "$snap")
  # One seeder at a time; the others wait and then find it done.
  exec 9>"$snap.lock"
  flock 9
  if [ "$(cat "$snap/stamp" 2>/dev/null)" = "$hash" ]; then
    log "snapshot $snap is up to date"
    return 0
  fi
  log "seeding $snap (harness $hash)"
  tmp=$snap.tmp.$$
  rm -rf "$tmp"
  # A seed that was killed outright left its work behind (maybe a server).
  for old in "$snap".tmp.*; do [ -e "$old" ] && discard "$old"; done
  # A failed seed leaves no half snapshot: all is built in $tmp, renamed last.
  SEED_TMP=$tmp
  trap 'discard "$SEED_TMP"' EXIT
  layout "$tmp" "$SEED_URL"
  mariadb-install-db --defaults-file="$tmp/my.cnf" --auth-root-authentication-method=normal \
    --skip-test-db > "$tmp/log/install-db.log" 2>&1 || { cat "$tmp/log/install-db.log" >&2; die "mariadb-install-db failed"; }
  # Durability is pointless while seeding: the snapshot is taken after a clean shutdown.
  start_db "$tmp" --innodb-flush-log-at-trx-commit=0
  mariadb --defaults-file="$tmp/my.cnf" -e "CREATE DATABASE wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  if ! KEEPSAKE_WP_ABSPATH=$tmp/wordpress/ WP_ENVIRONMENT_TYPE=local \
    php -d memory_limit=512M -d display_errors=stderr -d error_reporting='E_ALL&~E_DEPRECATED&~E_STRICT' \
      "$HERE/seed.php" "$tmp/seed.json" 2>&1 9>&- | tee "$tmp/log/seed.log" >&2 9>&-; then
    die "seed.php failed (see above)"
  fi
  # A slow shutdown purges undo logs, so the copied datadir is smaller.
  mariadb --defaults-file="$tmp/my.cnf" -e "SET GLOBAL innodb_fast_shutdown = 0"
  stop_db "$tmp"
  drop_socket_dir "$tmp"
  # Keep only what an instance copies: the datadir, the uploads, the facts.
  mv "$tmp/wp-content/uploads" "$tmp/uploads"
  mv "$tmp/log/seed.log" "$tmp/seed.log"
  rm -rf "$tmp"/{wordpress,wp-content,run,log,tmp,my.cnf}
  echo "$hash" > "$tmp/stamp"
  rm -rf "$snap"
  mv -T "$tmp" "$snap"
  trap - EXIT
  log "seeded $snap in $((SECONDS - t0)) s ($(du -sh "$snap" | cut -f1))"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_start() { # SNAPSHOT_DIR INSTANCE_DIR PORT
  local snap=${1%/} dir=${2%/} port=$3 url pgid i
  [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || { log "bad port $port"; exit 2; }
  cmd_seed "$snap"        # quick when the snapshot is current
  exec 9>&-
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  snap=$(cd "$snap" && pwd)
  if [ -f "$dir/pids" ]; then
    cmd_status "$dir" >/dev/null 2>&1 && die "$dir is already running ($(cat "$dir/url")); stop it first"
    cmd_stop "$dir"
  fi
  # Only ever wipe a directory that is empty or one of ours.
  if [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/.keepsake-wp-instance" ]; then
    die "$dir is not empty and not a WordPress instance of wp.sh; refusing to wipe it"
  fi
  port_in_use "$port" && { log "error: 127.0.0.1:$port is in use"; exit 3; }
  find "$dir" -mindepth 1 -delete
  touch "$dir/.keepsake-wp-instance"
  url=http://127.0.0.1:$port
  layout "$dir" "$url"
  # A fresh copy, so that tests that write do not disturb each other. The
  # shared lock keeps a reseed from replacing the snapshot mid-copy.
  (
    flock -s 9
    cp -a --reflink=auto "$snap/db" "$dir/db"
    cp -a --reflink=auto "$snap/uploads/." "$dir/wp-content/uploads/"
    cp "$snap/seed.json" "$dir/seed.json"
  ) 9>"$snap.lock"
  echo "$url" > "$dir/url"
  # Whatever fails from here on stops what was started.
  START_DIR=$dir
  trap 'cmd_stop "$START_DIR" 2>/dev/null' EXIT
  start_db "$dir"
  echo "mariadbd $(cat "$dir/run/mariadbd.pid")" > "$dir/pids"
  # setsid: the server and its workers get a process group of their own, which
  # stop kills whole (killing the master alone leaves the workers serving).
  # The inner shell records its own pid, which is that group's id.
  WP_ENVIRONMENT_TYPE=${WP_ENVIRONMENT_TYPE:-local} KEEPSAKE_WP_ABSPATH=$dir/wordpress/ \
  PHP_CLI_SERVER_WORKERS=$WORKERS \
    setsid bash -c 'echo $$ > "$0/run/php.pgid"; exec "$@"' "$dir" \
      php -d display_errors=0 -d log_errors=1 -d error_log="$dir/log/php-errors.log" \
        -d error_reporting='E_ALL&~E_DEPRECATED&~E_STRICT' \
        -d memory_limit=256M -d upload_max_filesize=64M -d post_max_size=64M \
        -d opcache.enable_cli=1 \
        -S "127.0.0.1:$port" -t "$dir/wordpress" "$HERE/router.php" \
      </dev/null >>"$dir/log/php-server.log" 2>&1 &
  for i in $(seq 1 200); do [ -s "$dir/run/php.pgid" ] && break; sleep 0.01; done
  pgid=$(cat "$dir/run/php.pgid")
  echo "php $pgid" >> "$dir/pids"
  for i in $(seq 1 300); do
    if ! alive "$pgid"; then
      tail -n 5 "$dir/log/php-server.log" >&2 || true
      grep -q 'Address already in use' "$dir/log/php-server.log" && { log "error: 127.0.0.1:$port is in use"; exit 3; }
      die "php -S exited (log: $dir/log/php-server.log)"
    fi
    curl -fsS -o /dev/null --max-time 5 "$url/wp-json/" 2>/dev/null && break
    sleep 0.05
  done
  curl -fsS -o /dev/null --max-time 5 "$url/wp-json/" || die "$url/wp-json/ did not answer"
  trap - EXIT
  if [ -n "${KEEPSAKE_WP_OWNER_PID:-}" ]; then
    export -f alive
    KEEPSAKE_WP_WATCHDOG=1 setsid bash -c '
      echo "watchdog $$" >> "$2/pids"
      while alive "$1" && [ -f "$2/pids" ]; do sleep 0.5; done
      [ -f "$2/pids" ] && exec "$3" stop "$2"' \
      _ "$KEEPSAKE_WP_OWNER_PID" "$dir" "$HERE/wp.sh" </dev/null >>"$dir/log/watchdog.log" 2>&1 &
  fi
  log "WordPress at $url (instance $dir, facts and credentials in $dir/seed.json)"
  echo "$url"
}

cmd_stop() { # INSTANCE_DIR
  local dir=${1%/} name pid
  [ -f "$dir/pids" ] || { log "$dir is not running"; return 0; }
  # SIGKILL: neither server has anything to save. The built-in server takes
  # ~2 s over a SIGTERM, and so does MariaDB's clean shutdown, for a datadir
  # that is never started again (start always copies the snapshot afresh).
  while read -r name pid; do
    case $name in
      php) kill -KILL -- "-$pid" 2>/dev/null || true
           wait_gone -g "$pid" 10 || log "php -S (process group $pid) is still there" ;;
      watchdog) [ -n "${KEEPSAKE_WP_WATCHDOG:-}" ] || kill -TERM -- "-$pid" 2>/dev/null || true ;;
    esac
  done < "$dir/pids"
  stop_db "$dir" KILL
  drop_socket_dir "$dir"
  rm -f "$dir/pids"
  log "stopped $dir"
}

cmd_status() { # INSTANCE_DIR
  local dir=${1%/} name pid up=0
  [ -f "$dir/pids" ] || { echo "stopped"; return 1; }
  echo "url $(cat "$dir/url")"
  while read -r name pid; do
    case $name in
      php) alive -g "$pid" && echo "php -S: up (process group $pid)" || { echo "php -S: down"; up=1; } ;;
      mariadbd) alive "$pid" && echo "mariadbd: up (pid $pid)" || { echo "mariadbd: down"; up=1; } ;;
      watchdog) alive "$pid" && echo "watchdog: up (pid $pid)" ;;
    esac
  done < "$dir/pids"
  echo "credentials: $dir/seed.json"
  return $up
}

cmd_sql() { # INSTANCE_DIR QUERY
  [ -f "$1/my.cnf" ] || die "$1 is not an instance"
  # Batch mode escapes tab, newline and backslash inside values as \t \n \\.
  mariadb --defaults-file="$1/my.cnf" --batch --skip-column-names --default-character-set=utf8mb4 \
    -e "$2" wordpress
}

case "${1:-}" in
  seed)   [ $# -eq 2 ] || usage; cmd_seed "$2" ;;
  start)  [ $# -eq 4 ] || usage; cmd_start "$2" "$3" "$4" ;;
  stop)   [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
  status) [ $# -eq 2 ] || usage; cmd_status "$2" ;;
  sql)    [ $# -eq 3 ] || usage; cmd_sql "$2" "$3" ;;
  *) usage ;;
esac

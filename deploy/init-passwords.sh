#!/bin/sh
# First start: make the broker's password file and the .env that docker compose reads.
#
#   deploy/init-passwords.sh [USER...]
#
# Creates the users sasha (the daemon), sim (the simulated devices), owner (the user Sasha lets
# approve unsafe moves: SASHA_API_OWNERS in docker-compose.yml) and homeassistant (Home
# Assistant's MQTT user), plus any USER named (plain users: they may ask, not approve). Each
# password comes from the environment when set (SASHA_MQTT_PASSWORD, SIM_MQTT_PASSWORD,
# OWNER_MQTT_PASSWORD, HOMEASSISTANT_MQTT_PASSWORD, or <USER>_MQTT_PASSWORD in capitals) and
# is generated otherwise.
# Writes deploy/passwords (salted hashes, what mosquitto reads) and .env (the passwords, mode
# 600, read by docker compose; both are in .gitignore). Existing files are kept: delete them
# to start over. Needs mosquitto_passwd (apt-get install mosquitto-clients... or mosquitto),
# or docker, which runs it from the eclipse-mosquitto image.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
passwords="$here/passwords"
env_file="$root/.env"

if [ -e "$passwords" ] || [ -e "$env_file" ]; then
    echo "$passwords or $env_file exists already; delete both to make new passwords" >&2
    exit 1
fi

generate() {
    # 24 random bytes, base64 without the characters URLs and shells treat specially.
    head -c 24 /dev/urandom | base64 | tr -d '\n/+='
}

add_user() {
    # mosquitto_passwd -b takes the password as an argument; it runs for a moment on this
    # machine only, before the broker is started.
    if command -v mosquitto_passwd >/dev/null 2>&1; then
        mosquitto_passwd -b "$passwords" "$1" "$2"
    else
        docker run --rm -v "$here:/work" eclipse-mosquitto:2 mosquitto_passwd -b /work/passwords "$1" "$2"
    fi
}

for user in "$@"; do
    case "$user" in
        "" | *[!A-Za-z0-9_-]*) echo "user names are letters, digits, - and _: '$user'" >&2; exit 1 ;;
    esac
done
umask 077
touch "$passwords"
: > "$env_file"
for user in sasha sim owner homeassistant "$@"; do
    variable="$(echo "$user" | tr '[:lower:]-' '[:upper:]_')_MQTT_PASSWORD"
    password=$(eval "printf '%s' \"\${$variable:-}\"")
    [ -n "$password" ] || password=$(generate)
    add_user "$user" "$password"
    printf '%s=%s\n' "$variable" "$password" >> "$env_file"
done
# mosquitto runs as its own user in the container and must read the hashes (never the
# passwords); .env stays readable by you alone.
chmod 644 "$passwords"
chmod 600 "$env_file"
echo "wrote $passwords (users: sasha sim owner homeassistant $*) and $env_file"

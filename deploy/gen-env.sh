#!/bin/sh
# Print .env.example with every empty *_PASSWORD and *_SECRET filled with a fresh random value:
#   ./deploy/gen-env.sh > .env
# 32 characters of [A-Za-z0-9] from /dev/urandom: no quoting issues in YAML, SQL or URLs.
set -eu
here=$(dirname "$0")
example="${1:-$here/../.env.example}"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    *_PASSWORD= | *_SECRET=)
      secret=$(LC_ALL=C tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 32)
      printf '%s%s\n' "$line" "$secret"
      ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$example"

#!/usr/bin/env bash
# The quickstart's data folder, printed on stdout: $STAB_DATA_DIR, else ../shared/data, else
# data/ (fetched there once with `stab data fetch glue --tasks CoLA` from the Hugging Face
# Hub, honouring HF_ENDPOINT / HF_TOKEN / HF_HUB_OFFLINE). With neither data nor network it
# stops with one instruction.
#   STAB=path/to/stab scripts/quickstart-data.sh     (default target/release/stab)
#   scripts/quickstart-data.sh --find    only look (no binary needed): print the folder and
#                                        exit 0, or exit 1 when the data must be fetched
set -euo pipefail
find_only=0
if [ "${1:-}" = "--find" ]; then find_only=1; fi
root="${STAB_QUICKSTART_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
stab="${STAB:-$root/target/release/stab}"
if [ -n "${STAB_DATA_DIR:-}" ]; then
  if [ ! -d "$STAB_DATA_DIR" ]; then
    echo "quickstart: STAB_DATA_DIR=$STAB_DATA_DIR does not exist; unset it to fetch CoLA into $root/data" >&2
    exit 2
  fi
  echo "$STAB_DATA_DIR"
  exit 0
fi
for d in "$root/../shared/data" "$root/data"; do
  if [ -f "$d/glue/CoLA/train.tsv" ] && [ -f "$d/glue/CoLA/dev.tsv" ]; then
    (cd "$d" && pwd)
    exit 0
  fi
done
if [ "$find_only" = 1 ]; then exit 1; fi
echo "quickstart: no GLUE data found; fetching CoLA from the Hugging Face Hub into $root/data" >&2
if ! err="$("$stab" data fetch glue --tasks CoLA --dir "$root/data" 2>&1 >/dev/null)"; then
  echo "quickstart: no GLUE data here and the Hugging Face Hub cannot be reached ($(echo "$err" | tail -n 1))." >&2
  echo "  Connect to the network and rerun, or give a folder with glue/CoLA/{train,dev}.tsv: STAB_DATA_DIR=DIR scripts/quickstart.sh" >&2
  exit 2
fi
echo "$root/data"

#!/usr/bin/env bash
# FluidSynth and a General MIDI soundfont come from the system: install them with apt-get when missing
# (as root), otherwise print the exact command and stop.
set -euo pipefail
need=()
ldconfig -p 2>/dev/null | grep -q 'libfluidsynth\.so' || need+=(libfluidsynth3)
[ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || [ -n "${FOLEY_SOUNDFONT:-}" ] || need+=(fluid-soundfont-gm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
elif command -v apt-get >/dev/null; then
    echo "Foley needs ${need[*]}: run  sudo apt-get install -y ${need[*]}  and then make again" >&2
    exit 1
else
    echo "Foley needs FluidSynth and a GM soundfont (${need[*]}); e.g. macOS: brew install fluid-synth, then set FOLEY_SOUNDFONT=/path/to/GM.sf2" >&2
    exit 1
fi

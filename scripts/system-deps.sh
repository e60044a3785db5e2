#!/usr/bin/env bash
# FluidSynth and a General MIDI soundfont come from the system: install them with apt-get when missing
# (as root), otherwise print the exact command and stop.
# `--check` (or FOLEY_DEPS_CHECK_ONLY=1) only reports: prints the missing packages and exits 1, or exits 0.
set -euo pipefail
check_only=${FOLEY_DEPS_CHECK_ONLY:-0}
[ "${1:-}" = "--check" ] && check_only=1
# The library cache is read once and matched in bash: `ldconfig -p | grep -q` under pipefail reported a
# present library missing whenever grep -q exited early and ldconfig died of SIGPIPE.
libs=$(ldconfig -p 2>/dev/null || true)
need=()
[[ $libs == *libfluidsynth.so* ]] || need+=(libfluidsynth3)
[ -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || [ -n "${FOLEY_SOUNDFONT:-}" ] || need+=(fluid-soundfont-gm)
# Qt (the panel) loads these system libraries even offscreen.
for pair in libEGL.so.1:libegl1 libGL.so.1:libgl1 libxkbcommon.so.0:libxkbcommon0 libfontconfig.so.1:libfontconfig1 \
            libdbus-1.so.3:libdbus-1-3 libpulse.so.0:libpulse0 libxcb-cursor.so.0:libxcb-cursor0 \
            libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1 libxkbcommon-x11.so.0:libxkbcommon-x11-0; do
    [[ $libs == *"${pair%%:*}"* ]] || need+=("${pair#*:}")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$check_only" = 1 ]; then
    echo "missing: ${need[*]}"
    exit 1
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
elif command -v apt-get >/dev/null; then
    echo "Foley needs ${need[*]}: run  sudo apt-get install -y ${need[*]}  and then make again" >&2
    exit 1
else
    echo "Foley needs ${need[*]} (FluidSynth, a GM soundfont, Qt libraries); e.g. macOS: brew install fluid-synth, then set FOLEY_SOUNDFONT=/path/to/GM.sf2" >&2
    exit 1
fi

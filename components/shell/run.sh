#!/bin/sh
# library/shell: run the `script` input with sh in the workspace.
workspace="${CO_WORKSPACE:-/workspace}"
[ -d "$workspace" ] || workspace=/tmp
case "${CO_WORKDIR:-.}" in
    /*|..|../*|*/../*|*/..) echo "workdir '${CO_WORKDIR}' must stay inside the workspace" >&2
        echo "[COUT] CO_RESULT = false"; exit 2 ;;
esac
cd "$workspace/${CO_WORKDIR:-.}" || { echo "[COUT] CO_RESULT = false"; exit 2; }
if [ -z "${CO_SCRIPT:-}" ]; then
    echo "input 'script' is empty: nothing to run" >&2
    echo "[COUT] CO_RESULT = false"
    exit 2
fi
if [ "${CO_ERREXIT:-true}" = "true" ]; then
    exec sh -e -c "$CO_SCRIPT"
fi
exec sh -c "$CO_SCRIPT"

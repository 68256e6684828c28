#!/bin/sh
# The container test: builds viaduct's image (deploy/container/Containerfile) and runs it in a
# private network namespace, configured by VIADUCT_* variables only.
#
#   sh test/container/run.sh        (make container-test; make test runs it after the
#                                    integration tests unless CONTAINER=no)
#
# 1. The base image localhost/debian:12, if podman lacks it: mmdebstrap --variant=minbase
#    bookworm from Debian's mirror, then podman import (Docker Hub is not reachable here).
# 2. The image localhost/viaduct:TREE, TREE the git tree of the working directory (HEAD^{tree}
#    when nothing is changed; uncommitted and untracked files count, ignored ones do not), built
#    from `git archive TREE` outside any private namespace (the build needs Debian's mirror).
#    An image of that tag is reused: a re-run with the same tree skips the build.
# 3. In a network namespace of its own (unshare -n, only lo) test/container/test_container.py
#    runs the image with --network host, which is then that namespace: nothing leaves it.
#
# podman 4.3 here needs --runtime /usr/sbin/runc (crun refuses the host's cgroup layout) and
# explicit ulimits. Where podman cannot run, this FAILS with the reason; it never skips. Ends with
# "container: N passed, M failed"; exit status 1 if anything failed, 2 if it could not run.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PY=${PYTHON:-python3}
BASE=localhost/debian:12
VD_PODMAN_FLAGS="--runtime /usr/sbin/runc --ulimit nofile=4096:4096 --ulimit nproc=4096:4096"

fail_setup() {
    echo "FAIL container setup: $*" >&2
    echo "container: 0 passed, 1 failed"
    exit 2
}

if [ "${1:-}" = "--in-netns" ]; then
    links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
    [ "$links" = "lo " ] || fail_setup "not in a private network namespace (links: $links)"
    ip link set lo up || fail_setup "cannot bring lo up"
    timeout -k 5 "${CONTAINER_TEST_TIMEOUT:-120}" "$PY" "$here/test_container.py" --image "$2"
    rc=$?
    [ $rc -eq 124 ] && echo "FAIL container: the test ran past its timeout" && echo "container: 0 passed, 1 failed"
    exit $rc
fi

[ "$(id -u)" = 0 ] || fail_setup "must run as root (podman with host networking in a private namespace; uid $(id -u))"
for t in podman /usr/sbin/runc mmdebstrap unshare ip git "$PY"; do
    command -v "$t" >/dev/null || fail_setup "$t is not installed (test/deps.sh installs it)"
done
err=$(unshare -n -- true 2>&1) || fail_setup "unshare -n failed: $err"
err=$(podman info 2>&1 >/dev/null) || fail_setup "podman cannot run: $err"

work="$root/build/container"
mkdir -p "$work" || fail_setup "cannot create $work"
t0=$(date +%s)
if ! podman image exists "$BASE"; then
    echo "# container: making $BASE with mmdebstrap (Debian's mirror)"
    rm -f "$work/debian-12.tar"
    timeout 600 mmdebstrap --quiet --variant=minbase bookworm "$work/debian-12.tar" >"$work/mmdebstrap.log" 2>&1 ||
        fail_setup "mmdebstrap failed: $(tail -n 3 "$work/mmdebstrap.log")"
    podman import -q "$work/debian-12.tar" "$BASE" >/dev/null || fail_setup "podman import failed"
    rm -f "$work/debian-12.tar"
fi

# The tree of what is in the working directory, through a scratch index: the real one is untouched.
idx="$work/index.$$"
cp "$(git -C "$root" rev-parse --git-path index)" "$idx" 2>/dev/null || fail_setup "not a git checkout: $root"
tree=$(cd "$root" && GIT_INDEX_FILE="$idx" git add -A && GIT_INDEX_FILE="$idx" git write-tree)
rm -f "$idx"
[ -n "$tree" ] || fail_setup "git write-tree failed"
image="localhost/viaduct:$tree"
if podman image exists "$image"; then
    echo "# container: reusing $image"
else
    echo "# container: building $image"
    ctx="$work/ctx.$$"
    rm -rf "$ctx" && mkdir -p "$ctx"
    git -C "$root" archive "$tree" | tar -x -C "$ctx" || fail_setup "git archive failed"
    # shellcheck disable=SC2086
    timeout 900 podman build $VD_PODMAN_FLAGS --build-arg BASE="$BASE" \
        -f "$ctx/deploy/container/Containerfile" -t "$image" "$ctx" >"$work/build.log" 2>&1
    rc=$?
    rm -rf "$ctx"
    [ $rc -eq 0 ] || fail_setup "podman build failed (exit $rc): $(tail -n 5 "$work/build.log")"
    # Bounded disk: the build stage's final image (labelled) and this test's older images go;
    # the cached layer of the build packages stays, so the next build skips apt.
    podman image prune -f --filter label=viaduct.stage=build >/dev/null 2>&1
    for old in $(podman images --format '{{.Repository}}:{{.Tag}}' localhost/viaduct); do
        [ "$old" = "$image" ] || podman rmi "$old" >/dev/null 2>&1
    done
fi
echo "# container: image ready after $(($(date +%s) - t0)) s"
exec unshare -n -- sh "$here/run.sh" --in-netns "$image"

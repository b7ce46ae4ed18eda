"""library/git-clone: clone `url` at `ref` into the run's workspace; output the commit SHA.

A token (secret input) goes to git as an HTTP header through GIT_CONFIG_* variables,
never in the URL or a command line, so it cannot show up in `ps` or in git's messages.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from containerops import sdk


def shown(url: str) -> str:
    """The URL without any user:password part, for messages."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=host))
    return url


def git_env(token: str | None) -> dict[str, str]:
    config = [("safe.directory", "*"), ("advice.detachedHead", "false"), ("init.defaultBranch", "main")]
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        config.append(("http.extraHeader", f"Authorization: Basic {basic}"))
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_CONFIG_COUNT=str(len(config)))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def git(*args: str, cwd: Path | None = None, env: dict[str, str]) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"git {args[0]} exited with {done.returncode}")
    return done.stdout.strip()


EVERY_REF = (
    "+refs/heads/*:refs/remotes/origin/*",
    "+refs/tags/*:refs/tags/*",
    "+refs/pull/*:refs/remotes/pull/*",
)
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def local_name(ref: str) -> tuple[str, str | None]:
    """Where a fetched full ref is kept, and the branch it is (None for tags and others):
    refs/heads/X -> refs/remotes/origin/X (branch X); refs/pull/2/head -> refs/remotes/pull/2/head."""
    if ref.startswith("refs/heads/"):
        return f"refs/remotes/origin/{ref.removeprefix('refs/heads/')}", ref.removeprefix("refs/heads/")
    if ref.startswith("refs/tags/"):
        return ref, None
    return "refs/remotes/" + ref.removeprefix("refs/"), None


def fetch(target: Path, env: dict[str, str], depth: int, *refspecs: str) -> bool:
    """Fetch refspecs from origin; False when the remote has none of them."""
    shallow = ["--depth", str(depth)] if depth > 0 else []
    try:
        git("fetch", "--quiet", "--no-tags", *shallow, "origin", *refspecs, cwd=target, env=env)
    except RuntimeError:
        return False
    return True


def commit_of(name: str, target: Path, env: dict[str, str]) -> str | None:
    try:
        return git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}", cwd=target, env=env)
    except RuntimeError:
        return None


def not_found(ref: str, target: Path, env: dict[str, str]) -> RuntimeError:
    branches = git("for-each-ref", "--format=%(refname:lstrip=3)", "refs/remotes/origin", cwd=target, env=env)
    tags = git("for-each-ref", "--format=%(refname:lstrip=2)", "refs/tags", cwd=target, env=env)
    known = [b for b in branches.split() if b != "HEAD"]
    return RuntimeError(
        f"ref {ref!r} is neither a branch, a tag nor a commit of the repository "
        f"(branches: {', '.join(known) or 'none'}; tags: {', '.join(tags.split()) or 'none'})"
    )


def fetch_ref(ref: str, target: Path, env: dict[str, str], depth: int) -> tuple[str, str | None]:
    """Fetch what `ref` names into the empty repository at `target`, as GitHub Actions'
    checkout does; (commit SHA, branch name or None). `ref` is a full ref (refs/heads/X,
    refs/tags/X, refs/pull/N/head, any refs/...), a branch or tag name, or a commit SHA
    (full, fetched by itself even when no branch holds it, or abbreviated)."""
    if ref.startswith("refs/"):
        name, branch = local_name(ref)
        if fetch(target, env, depth, f"+{ref}:{name}"):
            return git("rev-parse", f"{name}^{{commit}}", cwd=target, env=env), branch
    elif FULL_SHA.fullmatch(ref) and fetch(target, env, depth, ref):
        return ref, None
    else:
        for full in (f"refs/heads/{ref}", f"refs/tags/{ref}"):
            name, branch = local_name(full)
            if fetch(target, env, depth, f"+{full}:{name}"):
                return git("rev-parse", f"{name}^{{commit}}", cwd=target, env=env), branch
    # An abbreviated SHA, or a remote that refuses to send a commit by its SHA (a bundle,
    # an old server): fetch every branch, tag and pull request head, then look for it.
    git("fetch", "--quiet", "origin", *EVERY_REF, cwd=target, env=env)
    sha = commit_of(ref, target, env)
    if sha is None:
        raise not_found(ref, target, env)
    return sha, None


def main() -> None:
    url = sdk.input("url", required=True) or ""
    ref = sdk.input("ref", "") or ""
    folder = sdk.input("dir", ".") or "."
    depth = int(sdk.input("depth", "0") or "0")
    token = sdk.input("token") or None
    relative = PurePosixPath(folder)
    if relative.is_absolute() or ".." in relative.parts:
        sdk.fail(f"dir {folder!r} must be a folder inside the workspace (a relative path without '..')")
    workspace = Path(os.environ.get("CO_WORKSPACE") or "/workspace")
    if not workspace.is_dir():
        sdk.fail(f"the workspace {workspace} does not exist: run it in a flow, which has one")
    target = workspace / relative
    if target.exists() and any(target.iterdir()):
        sdk.fail(f"{target} is not empty: choose another 'dir' to clone into")
    env = git_env(token)
    print(f"cloning {shown(url)}{' at ' + ref if ref else ''} into {target}", flush=True)
    try:
        branch: str | None = None
        if ref:
            git("init", "--quiet", str(target), env=env)
            git("remote", "add", "origin", url, cwd=target, env=env)
            sha, branch = fetch_ref(ref, target, env, depth)
            if branch is not None:
                git("checkout", "-q", "-f", "-B", branch, sha, cwd=target, env=env)
            else:
                git("checkout", "-q", "-f", "--detach", sha, cwd=target, env=env)
        else:
            shallow = ["--depth", str(depth)] if depth > 0 else []
            git("clone", "--no-checkout", "--quiet", *shallow, "--", url, str(target), env=env)
            git("checkout", "-q", "-f", "HEAD", cwd=target, env=env)
            branch = git("rev-parse", "--abbrev-ref", "HEAD", cwd=target, env=env)
        sha = git("rev-parse", "HEAD", cwd=target, env=env)
    except RuntimeError as error:
        message = str(error).replace(url, shown(url))
        sdk.fail(f"cloning {shown(url)} failed: {message}")
    print(f"checked out {sha} ({branch or ref})", flush=True)
    sdk.set_output("CO_GIT_SHA", sha)
    sdk.set_output("CO_GIT_REF", branch or ref)
    sdk.set_output("CO_GIT_DIR", str(target))
    sdk.result(True)


if __name__ == "__main__":
    try:
        main()
    except ValueError as error:  # a malformed input that the flow's checks did not catch
        print(f"invalid input: {error}", file=sys.stderr)
        sdk.result(False)
        sys.exit(2)

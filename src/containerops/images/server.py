"""The image coops itself runs from on a cluster (``coops images build-server``): the
python base image with coops and its dependencies, for the server and the workers
(deploy/kubernetes).

coops is installed on this machine, by the running interpreter's pip, into a folder
(``pip install --target``) from the source checkout, and that folder copied into the
image: the base image has no pip, and its build has no network. The base image's Python
is Debian's 3.11, so the interpreter running this must be a 3.11 too (the compiled
dependencies are built for it). The image is rebuilt only when the source or the base
image changed (a digest of both, kept as the image's label).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from containerops.images.base import BuiltImage, Progress, build_on_python_base
from containerops.images.recipes import COOPS_UID, ImageBuildError

SERVER_IMAGE = "containerops/server:latest"
#: The Python of the base image (Debian bookworm's): what the installed packages are built for.
IMAGE_PYTHON = (3, 11)
#: The folders and files of a checkout that make the installed package.
SOURCE_PARTS = ("pyproject.toml", "src/containerops")

_SERVER_DOCKERFILE = f"""\
FROM {{base}}
COPY site /opt/coops/site
COPY coops /usr/local/bin/coops
ENV PYTHONPATH=/opt/coops/site
USER {COOPS_UID}:{COOPS_UID}
WORKDIR /home/coops
EXPOSE 8080
CMD ["coops", "server", "--host", "0.0.0.0", "--port", "8080"]
"""
_LAUNCHER = "#!/usr/bin/python3\nfrom containerops.cli.main import main\n\nmain()\n"


def source_checkout() -> Path | None:
    """The checkout coops runs from (an editable install), None when it is not one."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "containerops").is_dir() else None


def source_digest(source: Path) -> str:
    """A digest of what the install copies: the package's files (not caches) and pyproject."""
    sha = hashlib.sha256()
    for part in SOURCE_PARTS:
        path = source / part
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            sha.update(file.relative_to(source).as_posix().encode() + b"\0" + file.read_bytes())
    return sha.hexdigest()


def build_server_image(
    source: Path | None = None, *, force: bool = False, progress: Progress | None = None
) -> BuiltImage:
    """Build :data:`SERVER_IMAGE` from ``source`` (default: this checkout) on the python
    base image (built first when missing). Raises ImageBuildError saying why not."""
    say: Progress = progress or (lambda _message: None)
    source = source or source_checkout()
    if source is None or not (source / "pyproject.toml").is_file():
        raise ImageBuildError(
            "the server image is built from a source checkout of coops: give its folder with --source"
        )
    if sys.version_info[:2] != IMAGE_PYTHON:
        raise ImageBuildError(
            f"the server image needs coops installed by a Python {'.'.join(map(str, IMAGE_PYTHON))} "
            f"(the base image's), not {sys.version.split()[0]}"
        )
    checkout = source  # narrowed to a Path for the functions below

    def fill(context: Path, base_id: str) -> None:
        say(f"installing coops from {checkout} (pip install --target)")
        _pip_install(checkout, context / "site")
        launcher = context / "coops"
        launcher.write_text(_LAUNCHER)
        launcher.chmod(0o755)
        (context / "Dockerfile").write_text(_SERVER_DOCKERFILE.format(base=base_id))

    return build_on_python_base(
        SERVER_IMAGE,
        lambda _base_id: (_SERVER_DOCKERFILE, _LAUNCHER, source_digest(checkout)),
        fill,
        force=force,
        progress=say,
    )


def _pip_install(source: Path, target: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--target",
        str(target),
        str(source),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise ImageBuildError(f"installing coops into the image failed (pip exit {done.returncode}): {tail}")

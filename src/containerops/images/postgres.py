"""The PostgreSQL image of the swarm stack (deploy/swarm/stack.yaml), built locally:
no image hub is reachable, so it is Debian's ``postgresql`` package installed on the
python base image (Debian bookworm), from the same Debian mirror the base images are
bootstrapped from (the build, and only it, gets the host's network for ``apt-get``).

Its entry point makes the cluster on first start, in ``PGDATA`` (a volume), with the
superuser ``POSTGRES_USER`` whose password is read from the file ``POSTGRES_PASSWORD_FILE``
(a Docker secret: never an environment value), and the database ``POSTGRES_DB``; then
it runs ``postgres`` listening on every address, password (scram-sha-256) required for
TCP. Rebuilt only when its recipe or the base image changed (a digest, as a label).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from containerops.executors.docker_client import connect
from containerops.images.base import (
    DEBIAN_SUITE,
    PYTHON_IMAGE,
    BuiltImage,
    Progress,
    _built,
    _docker_build,
    _drop_replaced,
    _hash,
    _image_id,
    _mib,
    _up_to_date,
    build_base_images,
    debian_mirror,
)

POSTGRES_IMAGE = "containerops/postgres:15"
POSTGRES_PACKAGE = "postgresql-15"

_ENTRYPOINT = """\
#!/bin/sh
# Make the cluster on first start (see containerops/images/postgres.py), then run postgres.
set -eu
BIN=/usr/lib/postgresql/15/bin
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD_FILE:?set POSTGRES_PASSWORD_FILE to a file holding the password}"
    if [ ! -s "$POSTGRES_PASSWORD_FILE" ]; then
        echo "coops-postgres: $POSTGRES_PASSWORD_FILE is missing or empty" >&2
        exit 2
    fi
    "$BIN/initdb" -D "$PGDATA" -U "${POSTGRES_USER:-coops}" --pwfile="$POSTGRES_PASSWORD_FILE" \\
        -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "CREATE DATABASE \\"${POSTGRES_DB:-coops}\\";" \\
        | "$BIN/postgres" --single -D "$PGDATA" -j postgres >/dev/null
fi
exec "$BIN/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp "$@"
"""

_DOCKERFILE = f"""\
FROM {{base}}
USER root
RUN printf 'deb {{mirror}} {DEBIAN_SUITE} main\\ndeb {{mirror}} {DEBIAN_SUITE}-updates main\\n' \\
      > /etc/apt/sources.list \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {POSTGRES_PACKAGE} \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/*.log \\
 && mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data \\
 && chmod 700 /var/lib/postgresql/data
COPY coops-postgres /usr/local/bin/coops-postgres
ENV PGDATA=/var/lib/postgresql/data LANG=C.UTF-8
USER postgres
WORKDIR /var/lib/postgresql
EXPOSE 5432
STOPSIGNAL SIGINT
CMD ["coops-postgres"]
"""


def build_postgres_image(*, force: bool = False, progress: Progress | None = None) -> BuiltImage:
    """Build :data:`POSTGRES_IMAGE` on the python base image (built first when missing).
    Raises ImageBuildError saying why not."""
    say: Progress = progress or (lambda _message: None)
    started = time.monotonic()
    build_base_images(only=[PYTHON_IMAGE], progress=say)
    mirror = debian_mirror()
    client = connect()
    try:
        base = client.images.get(PYTHON_IMAGE)
        dockerfile = _DOCKERFILE.format(base=base.id, mirror=mirror)
        digest = _hash(str(base.id), dockerfile, _ENTRYPOINT)
        current = None if force else _up_to_date(client, POSTGRES_IMAGE, digest)
        if current is not None:
            say(f"{POSTGRES_IMAGE} is up to date")
            return _built(current, POSTGRES_IMAGE, digest, built=False, started=started)
        replaced = _image_id(client, POSTGRES_IMAGE)
        with tempfile.TemporaryDirectory(prefix="coops-postgres-") as context:
            Path(context, "Dockerfile").write_text(dockerfile)
            entrypoint = Path(context, "coops-postgres")
            entrypoint.write_text(_ENTRYPOINT)
            entrypoint.chmod(0o755)  # COPY keeps the mode
            say(f"building {POSTGRES_IMAGE} ({POSTGRES_PACKAGE} from {mirror})")
            image = _docker_build(
                client, context, POSTGRES_IMAGE, digest, say, nocache=force, network_mode="host"
            )
        _drop_replaced(client, [replaced], keep=image.id)
        say(f"built {POSTGRES_IMAGE} ({_mib(image)})")
        return _built(image, POSTGRES_IMAGE, digest, built=True, started=started)
    finally:
        client.close()

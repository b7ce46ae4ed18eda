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

from pathlib import Path

from containerops.images.base import BuiltImage, Progress, build_on_python_base, debian_mirror
from containerops.images.recipes import DEBIAN_SUITE

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
    mirror = debian_mirror()
    say(f"{POSTGRES_IMAGE}: {POSTGRES_PACKAGE} from {mirror}")

    def dockerfile(base_id: str) -> str:
        return _DOCKERFILE.format(base=base_id, mirror=mirror)

    def fill(context: Path, base_id: str) -> None:
        (context / "Dockerfile").write_text(dockerfile(base_id))
        entrypoint = context / "coops-postgres"
        entrypoint.write_text(_ENTRYPOINT)
        entrypoint.chmod(0o755)  # COPY keeps the mode

    return build_on_python_base(
        POSTGRES_IMAGE,
        lambda base_id: (dockerfile(base_id), _ENTRYPOINT),
        fill,
        force=force,
        progress=say,
        network_mode="host",  # apt-get, from the mirror the base images come from
    )

"""log_lines: one narrow index on job_id instead of (job_id, attempt, seq)

Every log line a job prints updates each index of log_lines, and a chatty job
prints hundreds of thousands a second. No reader orders or looks up lines by
(job_id, attempt, seq): they read a run's lines by (run_id, id), which its own
index serves, filtering on job_id. The index on job_id alone stays for the
foreign key (a deleted job finds its lines without a scan) and costs a quarter
less per line than the three-column one.

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-26 17:50:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


# The new index is made before the old one goes: MySQL and MariaDB refuse to drop the
# index a foreign key uses (job_id's) while no other index can serve it.


def upgrade() -> None:
    with op.batch_alter_table("log_lines", schema=None) as batch_op:
        batch_op.create_index("ix_log_lines_job_id", ["job_id"], unique=False)
        batch_op.drop_index("ix_log_lines_job_id_attempt_seq")


def downgrade() -> None:
    with op.batch_alter_table("log_lines", schema=None) as batch_op:
        batch_op.create_index("ix_log_lines_job_id_attempt_seq", ["job_id", "attempt", "seq"], unique=False)
        batch_op.drop_index("ix_log_lines_job_id")

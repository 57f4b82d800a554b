"""The dashboard's topic of each logged answer (kept even when the question's text is not).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.add_column(sa.Column("topic", sa.String(32)))
        batch.create_index("ix_answers_topic", ["topic"])


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_index("ix_answers_topic")
        batch.drop_column("topic")

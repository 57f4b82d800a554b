"""Conversation log, feedback, uploaded articles, metadata.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("surface", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(255)),
        sa.Column("question", sa.Text()),
        sa.Column("question_hash", sa.String(64), nullable=False),
        sa.Column("turns", sa.Text()),
        sa.Column("answer", sa.Text()),
        sa.Column("citations", sa.Text(), nullable=False),
        sa.Column("doc_ids", sa.Text(), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
    )
    op.create_index("ix_answers_created_at", "answers", ["created_at"])
    op.create_index("ix_answers_surface", "answers", ["surface"])
    op.create_index("ix_answers_refused", "answers", ["refused"])
    op.create_table(
        "feedback",
        sa.Column("answer_id", sa.String(32), sa.ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("rating", sa.String(8), nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_feedback_rating", "feedback", ["rating"])
    op.create_table(
        "articles",
        sa.Column("name", sa.String(120), primary_key=True),
        sa.Column("content", sa.LargeBinary()),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in ("meta", "articles", "feedback", "answers"):
        op.drop_table(table)

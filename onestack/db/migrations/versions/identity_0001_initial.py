"""identity initial

Revision ID: identity_0001
Revises: 
Create Date: 2026-11-23 19:38:04.336188
"""
from alembic import op
import sqlalchemy as sa


revision = 'identity_0001'
down_revision = None
branch_labels = ('identity',)
depends_on = None


def upgrade() -> None:
    op.create_table('identity_credentials',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('type', sa.String(length=255), nullable=False),
    sa.Column('encrypted_blob', sa.Text(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('access_key', sa.String(length=255), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_credentials'))
    )
    with op.batch_alter_table('identity_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_credentials_access_key'), ['access_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_credentials_user_id'), ['user_id'], unique=False)
    op.create_table('identity_groups',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_groups')),
    sa.UniqueConstraint('domain_id', 'name', name=op.f('uq_identity_groups_domain_id_name'))
    )
    with op.batch_alter_table('identity_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_groups_domain_id'), ['domain_id'], unique=False)
    op.create_table('identity_limits',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('domain_id', sa.String(length=64), nullable=True),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('region_id', sa.String(length=255), nullable=True),
    sa.Column('resource_name', sa.String(length=255), nullable=False),
    sa.Column('resource_limit', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_limits')),
    sa.UniqueConstraint('project_id', 'domain_id', 'service_id', 'region_id', 'resource_name', name=op.f('uq_identity_limits_project_id_domain_id_service_id_region_id_resource_name'))
    )
    with op.batch_alter_table('identity_limits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_limits_project_id'), ['project_id'], unique=False)
    op.create_table('identity_projects',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=True),
    sa.Column('domain_key', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('is_domain', sa.Boolean(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_projects')),
    sa.UniqueConstraint('domain_key', 'name', name=op.f('uq_identity_projects_domain_key_name'))
    )
    with op.batch_alter_table('identity_projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_projects_domain_id'), ['domain_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_projects_is_domain'), ['is_domain'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_projects_parent_id'), ['parent_id'], unique=False)
    op.create_table('identity_regions',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('parent_region_id', sa.String(length=255), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_regions'))
    )
    op.create_table('identity_registered_limits',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('region_id', sa.String(length=255), nullable=True),
    sa.Column('resource_name', sa.String(length=255), nullable=False),
    sa.Column('default_limit', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_registered_limits')),
    sa.UniqueConstraint('service_id', 'region_id', 'resource_name', name=op.f('uq_identity_registered_limits_service_id_region_id_resource_name'))
    )
    op.create_table('identity_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_revision'))
    )
    op.create_table('identity_revocation_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=True),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('role_id', sa.String(length=64), nullable=True),
    sa.Column('trust_id', sa.String(length=64), nullable=True),
    sa.Column('app_cred_id', sa.String(length=64), nullable=True),
    sa.Column('audit_id', sa.String(length=32), nullable=True),
    sa.Column('audit_chain_id', sa.String(length=32), nullable=True),
    sa.Column('issued_before', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_revocation_events'))
    )
    with op.batch_alter_table('identity_revocation_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_revocation_events_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_revocation_events_revoked_at'), ['revoked_at'], unique=False)
    op.create_table('identity_roles',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=True),
    sa.Column('domain_key', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_roles')),
    sa.UniqueConstraint('domain_key', 'name', name=op.f('uq_identity_roles_domain_key_name'))
    )
    op.create_table('identity_services',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_services'))
    )
    op.create_table('identity_trusts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('trustor_user_id', sa.String(length=64), nullable=False),
    sa.Column('trustee_user_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('impersonation', sa.Boolean(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('remaining_uses', sa.Integer(), nullable=True),
    sa.Column('redelegation_count', sa.Integer(), nullable=True),
    sa.Column('redelegated_trust_id', sa.String(length=64), nullable=True),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_trusts'))
    )
    with op.batch_alter_table('identity_trusts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_trusts_trustee_user_id'), ['trustee_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_trusts_trustor_user_id'), ['trustor_user_id'], unique=False)
    op.create_table('identity_users',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('domain_id', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('default_project_id', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('password_created_at', sa.DateTime(), nullable=True),
    sa.Column('password_expires_at', sa.DateTime(), nullable=True),
    sa.Column('failed_auth_count', sa.Integer(), nullable=False),
    sa.Column('failed_auth_at', sa.DateTime(), nullable=True),
    sa.Column('last_active_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_users')),
    sa.UniqueConstraint('domain_id', 'name', name=op.f('uq_identity_users_domain_id_name'))
    )
    with op.batch_alter_table('identity_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_users_domain_id'), ['domain_id'], unique=False)
    op.create_table('identity_access_rules',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=128), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_users.id'], name=op.f('fk_identity_access_rules_user_id_identity_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_access_rules'))
    )
    with op.batch_alter_table('identity_access_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_access_rules_user_id'), ['user_id'], unique=False)
    op.create_table('identity_app_creds',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('project_id', sa.String(length=64), nullable=True),
    sa.Column('system', sa.String(length=16), nullable=True),
    sa.Column('secret_hash', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('unrestricted', sa.Boolean(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('access_rules', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_users.id'], name=op.f('fk_identity_app_creds_user_id_identity_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_app_creds')),
    sa.UniqueConstraint('user_id', 'name', name=op.f('uq_identity_app_creds_user_id_name'))
    )
    with op.batch_alter_table('identity_app_creds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_app_creds_user_id'), ['user_id'], unique=False)
    op.create_table('identity_assignments',
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('role_id', sa.String(length=64), nullable=False),
    sa.Column('inherited', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['identity_roles.id'], name=op.f('fk_identity_assignments_role_id_identity_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('type', 'actor_id', 'target_id', 'role_id', 'inherited', name=op.f('pk_identity_assignments'))
    )
    with op.batch_alter_table('identity_assignments', schema=None) as batch_op:
        batch_op.create_index('ix_identity_assignments_actor', ['actor_id'], unique=False)
        batch_op.create_index('ix_identity_assignments_target', ['target_id'], unique=False)
    op.create_table('identity_endpoints',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.String(length=64), nullable=False),
    sa.Column('interface', sa.String(length=8), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('region_id', sa.String(length=255), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['identity_services.id'], name=op.f('fk_identity_endpoints_service_id_identity_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_endpoints'))
    )
    with op.batch_alter_table('identity_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_endpoints_service_id'), ['service_id'], unique=False)
    op.create_table('identity_implied_roles',
    sa.Column('prior_role_id', sa.String(length=64), nullable=False),
    sa.Column('implied_role_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['implied_role_id'], ['identity_roles.id'], name=op.f('fk_identity_implied_roles_implied_role_id_identity_roles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['prior_role_id'], ['identity_roles.id'], name=op.f('fk_identity_implied_roles_prior_role_id_identity_roles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('prior_role_id', 'implied_role_id', name=op.f('pk_identity_implied_roles'))
    )
    op.create_table('identity_memberships',
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['identity_groups.id'], name=op.f('fk_identity_memberships_group_id_identity_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['identity_users.id'], name=op.f('fk_identity_memberships_user_id_identity_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'group_id', name=op.f('pk_identity_memberships'))
    )
    with op.batch_alter_table('identity_memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_memberships_group_id'), ['group_id'], unique=False)
    op.create_table('identity_password_history',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['identity_users.id'], name=op.f('fk_identity_password_history_user_id_identity_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_password_history'))
    )
    with op.batch_alter_table('identity_password_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_password_history_user_id'), ['user_id'], unique=False)
    op.create_table('identity_project_tags',
    sa.Column('project_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['identity_projects.id'], name=op.f('fk_identity_project_tags_project_id_identity_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'name', name=op.f('pk_identity_project_tags'))
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_table('identity_project_tags')
    op.drop_table('identity_password_history')
    op.drop_table('identity_memberships')
    op.drop_table('identity_implied_roles')
    op.drop_table('identity_endpoints')
    op.drop_table('identity_assignments')
    op.drop_table('identity_app_creds')
    op.drop_table('identity_access_rules')
    op.drop_table('identity_users')
    op.drop_table('identity_trusts')
    op.drop_table('identity_services')
    op.drop_table('identity_roles')
    op.drop_table('identity_revocation_events')
    op.drop_table('identity_revision')
    op.drop_table('identity_registered_limits')
    op.drop_table('identity_regions')
    op.drop_table('identity_projects')
    op.drop_table('identity_limits')
    op.drop_table('identity_groups')
    op.drop_table('identity_credentials')

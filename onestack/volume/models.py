"""Block-storage tables."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onestack.db.base import Base, utcnow


class VolumeType(Base):
    __tablename__ = "volume_types"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    qos_specs_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)


class VolumeTypeAccess(Base):
    __tablename__ = "volume_type_access"
    type_id: Mapped[str] = mapped_column(String(36), ForeignKey("volume_types.id", ondelete="CASCADE"),
                                         primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Volume(Base):
    __tablename__ = "volume_volumes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), index=True)
    attach_status: Mapped[str] = mapped_column(String(32), default="detached")
    migration_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    volume_type_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    backend: Mapped[str | None] = mapped_column(String(64), nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    readonly: Mapped[bool] = mapped_column(Boolean, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    source_volid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    image_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    backup_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    group_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    image_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    admin_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    provider_location: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, onupdate=utcnow)
    launched_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Attachment(Base):
    __tablename__ = "volume_attachments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(String(36), ForeignKey("volume_volumes.id", ondelete="CASCADE"),
                                           index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    instance_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    attached_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mountpoint: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attach_mode: Mapped[str] = mapped_column(String(8), default="rw")
    attach_status: Mapped[str] = mapped_column(String(32), default="reserved")
    connector: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    connection_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attach_time: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    detach_time: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Snapshot(Base):
    __tablename__ = "volume_snapshots"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    progress: Mapped[str] = mapped_column(String(8), default="0%")
    group_snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    provider_location: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, onupdate=utcnow)


class Backup(Base):
    __tablename__ = "volume_backups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    volume_id: Mapped[str] = mapped_column(String(36), index=True)
    snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    container: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Which backup driver holds the data ("posix" chunk directory or "object" store).
    service: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    object_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32))
    fail_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_incremental: Mapped[bool] = mapped_column(Boolean, default=False)
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    data_timestamp: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, onupdate=utcnow)


class Transfer(Base):
    __tablename__ = "volume_transfers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(String(36), ForeignKey("volume_volumes.id", ondelete="CASCADE"),
                                           index=True)
    project_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    salt: Mapped[str] = mapped_column(String(64))
    crypt_hash: Mapped[str] = mapped_column(String(255))
    no_snapshots: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Quota(Base):
    __tablename__ = "volume_quotas"
    __table_args__ = (UniqueConstraint("project_id", "resource"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    resource: Mapped[str] = mapped_column(String(255))
    hard_limit: Mapped[int] = mapped_column(Integer)


class QosSpecs(Base):
    __tablename__ = "volume_qos_specs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    consumer: Mapped[str] = mapped_column(String(16), default="back-end")
    specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class GroupType(Base):
    __tablename__ = "volume_group_types"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    group_specs: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Group(Base):
    __tablename__ = "volume_groups"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    group_type_id: Mapped[str] = mapped_column(String(36))
    volume_type_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    group_snapshot_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    source_group_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, onupdate=utcnow)


class GroupSnapshot(Base):
    __tablename__ = "volume_group_snapshots"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group_id: Mapped[str] = mapped_column(String(36), index=True)
    group_type_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class Message(Base):
    """A user message: what went wrong in an asynchronous operation (GET /messages)."""
    __tablename__ = "volume_messages"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    resource_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resource_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    event_id: Mapped[str] = mapped_column(String(64))
    message_level: Mapped[str] = mapped_column(String(16), default="ERROR")
    user_message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Encryption(Base):
    __tablename__ = "volume_encryption"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_type_id: Mapped[str] = mapped_column(String(36), unique=True)
    provider: Mapped[str] = mapped_column(String(255))
    cipher: Mapped[str | None] = mapped_column(String(255), nullable=True)
    key_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    control_location: Mapped[str] = mapped_column(String(16), default="front-end")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, onupdate=utcnow)


class ServiceState(Base):
    """Operator state of a (binary, host) service: disabled with a reason, frozen."""
    __tablename__ = "volume_service_states"
    binary: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, onupdate=utcnow)

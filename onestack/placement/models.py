"""Placement tables: providers, inventories, allocations, consumers, traits, classes, aggregates."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onestack.db.base import Base, utcnow


class ResourceProvider(Base):
    __tablename__ = "placement_resource_providers"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    parent_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    root_uuid: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Inventory(Base):
    __tablename__ = "placement_inventories"
    rp_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("placement_resource_providers.uuid", ondelete="CASCADE"), primary_key=True)
    resource_class: Mapped[str] = mapped_column(String(255), primary_key=True)
    total: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    min_unit: Mapped[int] = mapped_column(Integer, default=1)
    max_unit: Mapped[int] = mapped_column(Integer)
    step_size: Mapped[int] = mapped_column(Integer, default=1)
    allocation_ratio: Mapped[float] = mapped_column(Float, default=1.0)


class Consumer(Base):
    __tablename__ = "placement_consumers"
    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255), index=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    consumer_type: Mapped[str] = mapped_column(String(255), default="UNKNOWN")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Allocation(Base):
    __tablename__ = "placement_allocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rp_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("placement_resource_providers.uuid"), index=True)
    consumer_uuid: Mapped[str] = mapped_column(String(36), index=True)
    resource_class: Mapped[str] = mapped_column(String(255))
    used: Mapped[int] = mapped_column(Integer)


class Trait(Base):
    __tablename__ = "placement_traits"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ProviderTrait(Base):
    __tablename__ = "placement_provider_traits"
    rp_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("placement_resource_providers.uuid", ondelete="CASCADE"), primary_key=True)
    trait: Mapped[str] = mapped_column(String(255), ForeignKey("placement_traits.name"), primary_key=True)


class ResourceClass(Base):
    """Custom resource classes (the standard ones come from os-resource-classes)."""
    __tablename__ = "placement_resource_classes"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ProviderAggregate(Base):
    __tablename__ = "placement_provider_aggregates"
    rp_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("placement_resource_providers.uuid", ondelete="CASCADE"), primary_key=True)
    aggregate_uuid: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


__all__ = ["ResourceProvider", "Inventory", "Consumer", "Allocation", "Trait", "ProviderTrait",
           "ResourceClass", "ProviderAggregate", "UniqueConstraint"]

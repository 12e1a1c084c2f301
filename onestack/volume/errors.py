"""Block-storage errors (rendered Cinder-style by errors.render 'nova')."""
from onestack import errors


class VolumeNotFound(errors.NotFound):
    message = "Volume {volume_id} could not be found."


class SnapshotNotFound(errors.NotFound):
    message = "Snapshot {snapshot_id} could not be found."


class BackupNotFound(errors.NotFound):
    message = "Backup {backup_id} could not be found."


class TypeNotFound(errors.NotFound):
    message = "Volume type {type_id} could not be found."


class AttachmentNotFound(errors.NotFound):
    message = "Volume attachment could not be found with filter: attachment_id = {attachment_id}."


class TransferNotFound(errors.NotFound):
    message = "Transfer {transfer_id} could not be found."


class InvalidVolume(errors.BadRequest):
    """Upstream answers 400 'Invalid volume: ...' for most state conflicts."""


class VolumeSizeExceedsAvailableQuota(errors.OverQuota):
    code, title, nova_key = 413, "Request Entity Too Large", "overLimit"


class OverQuota(errors.OverQuota):
    code, title, nova_key = 413, "Request Entity Too Large", "overLimit"


class GroupNotFound(errors.NotFound):
    message = "Group {group_id} could not be found."


class GroupTypeNotFound(errors.NotFound):
    message = "Group type {group_type_id} could not be found."


class GroupSnapshotNotFound(errors.NotFound):
    message = "GroupSnapshot {group_snapshot_id} could not be found."


class QosSpecsNotFound(errors.NotFound):
    message = "QoS Specs {specs_id} could not be found."


class MessageNotFound(errors.NotFound):
    message = "Message {message_id} could not be found."

"""Image errors (codes live in onestack.errors)."""
from onestack import errors


class ImageNotFound(errors.NotFound):
    message = "No image found with ID {image_id}"


class InvalidImageData(errors.BadRequest):
    message = "Image data is invalid."


class ImageStateConflict(errors.Conflict):
    message = "Image status transition from {old} to {new} is not allowed"


class ReadOnlyProperty(errors.Forbidden):
    message = "Attribute '{name}' is read-only."


class ReservedProperty(errors.Forbidden):
    message = "Attribute '{name}' is reserved."


class ImageQuotaExceeded(errors.RequestEntityTooLarge):
    message = "The image quota has been exceeded."

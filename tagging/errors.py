"""Domain errors, each named for the situation that raises it and carrying a code the API returns."""

from __future__ import annotations


class TaggingError(Exception):
    """Base of every error this package raises on purpose; `code` is stable, the message is for people."""

    code = "tagging_error"


class UnauthenticatedError(TaggingError):
    code = "unauthenticated"


class InvalidRequestError(TaggingError):
    code = "invalid_request"


class EmptyUploadError(InvalidRequestError):
    code = "empty_body"


class LengthRequiredError(TaggingError):
    """A body sent without Content-Length (chunked): Azure Functions hands the function none of it."""

    code = "length_required"


class InvalidImageIdError(InvalidRequestError):
    code = "invalid_id"


class InvalidTagError(InvalidRequestError):
    code = "invalid_tag"


class InvalidContinuationError(InvalidRequestError):
    code = "invalid_continuation"


class UploadTooLargeError(TaggingError):
    code = "too_large"


class UnsupportedMediaError(TaggingError):
    code = "unsupported_media_type"


class ImageNotFoundError(TaggingError):
    code = "not_found"

    @classmethod
    def of(cls, image_id: str) -> ImageNotFoundError:
        """The one way an image the caller cannot see is reported: never whether someone else has it."""
        return cls(f"You have no image {image_id}.")


class ImageNotReadyError(TaggingError):
    """The request needs the image tagged first: try again in a moment."""

    code = "not_ready"

    @classmethod
    def still_tagging(cls) -> ImageNotReadyError:
        return cls("The image is still being tagged; change its tags once it is done.")


class NotComparableError(TaggingError):
    """The image has no perceptual hash to compare: it failed, has too little detail, or predates the hash."""

    code = "not_comparable"


class RetryTooSoonError(TaggingError):
    """An image tagged moments ago asked to be tagged again: each image is analysed at most once a minute."""

    code = "retry_too_soon"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageUnavailableError(TaggingError):
    """Storage cannot be reached right now: the request is safe to repeat in a moment."""

    code = "storage_unavailable"


class InvalidImageError(TaggingError):
    """The bytes claim an accepted format but cannot be decoded: permanent, never worth a retry."""

    code = "invalid_image"


class ImageTooLargeError(InvalidImageError):
    """More pixels than the configured limit: refused before any pixel is decoded."""

    code = "image_too_large"


class ImageTooComplexError(InvalidImageError):
    """A file whose structure would cost far more to decode than any photo: refused before decoding."""

    code = "image_too_complex"


class MalformedJobError(TaggingError):
    """A queue message that is not a job this version understands: retrying cannot help."""

    code = "malformed_job"

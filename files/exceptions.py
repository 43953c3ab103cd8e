"""File errors with Dify's codes and statuses."""

from dify_project.api.errors import ApiError, NotFound


class NoFileUploaded(ApiError):
    code = "no_file_uploaded"
    message = "Please upload your file."


class TooManyFiles(ApiError):
    code = "too_many_files"
    message = "Only one file is allowed."


class FileTooLarge(ApiError):
    code = "file_too_large"
    status = 413
    message = "File size exceeded."


class UnsupportedFileType(ApiError):
    code = "unsupported_file_type"
    status = 415
    message = "File type not allowed."


class FilenameNotExists(ApiError):
    code = "filename_not_exists_error"
    message = "The specified filename does not exist."


class FileNotFound(NotFound):
    code = "file_not_found"
    message = "File not found."


class FileAccessDenied(ApiError):
    code = "file_access_denied"
    status = 403
    message = "Access to the requested file is denied."

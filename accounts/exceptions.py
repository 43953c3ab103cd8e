"""Account and workspace errors, with Dify's codes."""

from dify_project.api.errors import ApiError, Forbidden, NotFound, Unauthorized


class InvalidAuthToken(Unauthorized):
    message = "Invalid token."


class AccountBanned(Forbidden):
    code = "account_banned"
    message = "Account is banned."


class AlreadySetup(Forbidden):
    code = "already_setup"
    message = (
        "Dify has been successfully installed. Please refresh the page or return to the dashboard homepage."
    )


class NotSetup(Unauthorized):
    code = "not_setup"
    message = "Dify has not been initialized and installed yet. Please proceed with the initialization and installation process first."


class NotInitValidated(Unauthorized):
    code = "not_init_validated"
    message = (
        "Init validation has not been completed yet. Please proceed with the init validation process first."
    )


class InvalidCredentials(ApiError):
    code = "authentication_failed"
    status = 401
    message = "Invalid email or password."


class LoginLocked(ApiError):
    code = "email_password_login_limit"
    status = 429
    message = "Too many incorrect password attempts. Please try again later."


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"
    message = "Invalid refresh token."


class NoPermission(Forbidden):
    code = "forbidden"
    message = "You don't have the permission to perform this action."


class MemberNotInTenant(NotFound):
    code = "member_not_in_tenant"
    message = "The member is not in the workspace."


class CannotOperateSelf(ApiError):
    code = "cannot_operate_self"
    message = "Cannot operate on yourself."


class AccountAlreadyInTenant(ApiError):
    code = "account_already_in_tenant"
    message = "The account is already a member of the workspace."


class InvalidInvitation(ApiError):
    code = "invalid_invitation_code"
    message = "The invitation is invalid or has expired."


class WorkspaceNotFound(NotFound):
    code = "workspace_not_found"
    message = "Workspace not found."


class NoCurrentWorkspace(Forbidden):
    code = "workspace_not_found"
    message = "The account belongs to no workspace."

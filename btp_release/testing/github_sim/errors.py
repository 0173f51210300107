"""The error a simulated operation answers with, in GitHub's ``basic-error``/``validation-error`` shape."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    """An HTTP error answer; raised anywhere in the simulator and rendered by the HTTP layer."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        documentation_url: str = DOCS,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        self.documentation_url = documentation_url

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.documentation_url
        out["status"] = str(self.status)
        return out


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def validation_failed(resource: str, code: str, field: str, message: str = "") -> ApiError:
    """422 with one entry in ``errors``, as GitHub answers a rejected field."""
    error: dict[str, Any] = {"resource": resource, "code": code, "field": field}
    if message:
        error["message"] = message
    return ApiError(422, "Validation Failed", errors=[error])


def invalid_request(message: str) -> ApiError:
    """422 for a body of the wrong type, as GitHub's JSON schema check answers."""
    return ApiError(422, f"Invalid request.\n\n{message}")
